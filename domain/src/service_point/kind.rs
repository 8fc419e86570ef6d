//! What a service point is (its kind) and what it offers (amenities, a fixed vocabulary), with
//! the names used in imports: our codes, the short codes of the 郑州 open-data file
//! (`drink;ac;seat…`), and the Chinese labels officials type in spreadsheets.

use serde::{Deserialize, Serialize};

/// The kind of a service point (服务阵地), from the seeds (DOMAIN.md "Service points").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServicePointKind {
    /// 户外劳动者服务站点 / 爱心驿站 / 暖心驿站 / 工会驿站.
    OutdoorWorkerStation,
    /// 司机之家.
    DriverHome,
    /// 爱心妈咪小屋 / 女职工休息哺乳室.
    NursingRoom,
    /// 职工服务中心.
    ServiceCenter,
    /// 工人文化宫.
    CulturalPalace,
    /// 疗休养基地 (graded one to five stars).
    RecuperationBase,
    /// 法律援助工作站.
    LegalAidStation,
    /// Anything else.
    Other,
}

impl ServicePointKind {
    /// Every kind.
    pub const ALL: [ServicePointKind; 8] = [
        Self::OutdoorWorkerStation,
        Self::DriverHome,
        Self::NursingRoom,
        Self::ServiceCenter,
        Self::CulturalPalace,
        Self::RecuperationBase,
        Self::LegalAidStation,
        Self::Other,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutdoorWorkerStation => "outdoor_worker_station",
            Self::DriverHome => "driver_home",
            Self::NursingRoom => "nursing_room",
            Self::ServiceCenter => "service_center",
            Self::CulturalPalace => "cultural_palace",
            Self::RecuperationBase => "recuperation_base",
            Self::LegalAidStation => "legal_aid_station",
            Self::Other => "other",
        }
    }

    /// The label a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::OutdoorWorkerStation => "户外劳动者服务站点",
            Self::DriverHome => "司机之家",
            Self::NursingRoom => "爱心妈咪小屋",
            Self::ServiceCenter => "职工服务中心",
            Self::CulturalPalace => "工人文化宫",
            Self::RecuperationBase => "疗休养基地",
            Self::LegalAidStation => "法律援助工作站",
            Self::Other => "其他",
        }
    }

    /// Parses [`ServicePointKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind named by an import's category column: our code, or a Chinese name as it
    /// appears in published lists (`工会驿站`, `环卫工驿站`, `司机之家`, `哺乳室`…). `None` when
    /// nothing matches; the importer reports it rather than guessing `other`.
    pub fn from_category(text: &str) -> Option<Self> {
        let t = text.trim();
        if let Some(kind) = Self::parse(t) {
            return Some(kind);
        }
        const NAMES: [(&str, ServicePointKind); 12] = [
            ("驿站", ServicePointKind::OutdoorWorkerStation),
            ("户外劳动者", ServicePointKind::OutdoorWorkerStation),
            ("司机之家", ServicePointKind::DriverHome),
            ("妈咪小屋", ServicePointKind::NursingRoom),
            ("哺乳", ServicePointKind::NursingRoom),
            ("母婴", ServicePointKind::NursingRoom),
            ("服务中心", ServicePointKind::ServiceCenter),
            ("职工之家", ServicePointKind::ServiceCenter),
            ("文化宫", ServicePointKind::CulturalPalace),
            ("疗休养", ServicePointKind::RecuperationBase),
            ("法律援助", ServicePointKind::LegalAidStation),
            ("其他", ServicePointKind::Other),
        ];
        NAMES
            .into_iter()
            .find(|(name, _)| t.contains(name))
            .map(|(_, kind)| kind)
    }
}

/// Something a service point offers, from a fixed vocabulary (issue #4; the seeds' "冷可取暖、
/// 热可纳凉、渴可喝水、累可歇脚、伤可用药", and 司机之家's meals, showers, laundry, parking and
/// roadside rescue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amenity {
    /// 饮用水.
    DrinkingWater,
    /// 热水.
    HotWater,
    /// 微波炉.
    Microwave,
    /// 充电.
    Charging,
    /// 空调.
    AirConditioning,
    /// 取暖.
    Heating,
    /// 座椅 / 歇脚.
    Seating,
    /// 卫生间.
    Toilet,
    /// 急救药箱.
    FirstAid,
    /// 无线网络.
    Wifi,
    /// 阅读角.
    ReadingCorner,
    /// 淋浴.
    Shower,
    /// 洗衣.
    Laundry,
    /// 停车.
    Parking,
    /// 餐食.
    Meals,
    /// 哺乳 / 母婴.
    Nursing,
    /// 道路救援.
    RoadsideRescue,
}

impl Amenity {
    /// Every amenity.
    pub const ALL: [Amenity; 17] = [
        Self::DrinkingWater,
        Self::HotWater,
        Self::Microwave,
        Self::Charging,
        Self::AirConditioning,
        Self::Heating,
        Self::Seating,
        Self::Toilet,
        Self::FirstAid,
        Self::Wifi,
        Self::ReadingCorner,
        Self::Shower,
        Self::Laundry,
        Self::Parking,
        Self::Meals,
        Self::Nursing,
        Self::RoadsideRescue,
    ];

    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DrinkingWater => "drinking_water",
            Self::HotWater => "hot_water",
            Self::Microwave => "microwave",
            Self::Charging => "charging",
            Self::AirConditioning => "air_conditioning",
            Self::Heating => "heating",
            Self::Seating => "seating",
            Self::Toilet => "toilet",
            Self::FirstAid => "first_aid",
            Self::Wifi => "wifi",
            Self::ReadingCorner => "reading_corner",
            Self::Shower => "shower",
            Self::Laundry => "laundry",
            Self::Parking => "parking",
            Self::Meals => "meals",
            Self::Nursing => "nursing",
            Self::RoadsideRescue => "roadside_rescue",
        }
    }

    /// The label a worker reads.
    pub fn zh(self) -> &'static str {
        match self {
            Self::DrinkingWater => "饮用水",
            Self::HotWater => "热水",
            Self::Microwave => "微波炉",
            Self::Charging => "充电",
            Self::AirConditioning => "空调",
            Self::Heating => "取暖",
            Self::Seating => "休息座椅",
            Self::Toilet => "卫生间",
            Self::FirstAid => "急救药箱",
            Self::Wifi => "无线网络",
            Self::ReadingCorner => "阅读角",
            Self::Shower => "淋浴",
            Self::Laundry => "洗衣",
            Self::Parking => "停车",
            Self::Meals => "餐食",
            Self::Nursing => "哺乳",
            Self::RoadsideRescue => "道路救援",
        }
    }

    /// Parses [`Amenity::as_str`] (what the API accepts).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The amenity an import names: our code, its Chinese label, or a short code of the 郑州
    /// open-data file (`drink`, `ac`, `seat`; see `shared/data/real/README.md`).
    pub fn from_import(text: &str) -> Option<Self> {
        let t = text.trim();
        let short = match t {
            "drink" | "water" => Some(Self::DrinkingWater),
            "ac" => Some(Self::AirConditioning),
            "seat" | "rest" => Some(Self::Seating),
            "饮水" | "喝水" => Some(Self::DrinkingWater),
            "歇脚" | "座椅" => Some(Self::Seating),
            "药箱" => Some(Self::FirstAid),
            "wifi" | "WiFi" | "WIFI" => Some(Self::Wifi),
            _ => None,
        };
        short
            .or_else(|| Self::parse(t))
            .or_else(|| Self::ALL.into_iter().find(|a| a.zh() == t))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_labels_are_distinct() {
        for k in ServicePointKind::ALL {
            assert_eq!(ServicePointKind::parse(k.as_str()), Some(k));
            assert_eq!(ServicePointKind::from_category(k.as_str()), Some(k));
        }
        for a in Amenity::ALL {
            assert_eq!(Amenity::parse(a.as_str()), Some(a));
            assert_eq!(Amenity::from_import(a.as_str()), Some(a));
            assert_eq!(Amenity::from_import(a.zh()), Some(a));
        }
        let mut labels: Vec<_> = Amenity::ALL.iter().map(|a| a.zh()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Amenity::ALL.len());
    }

    #[test]
    fn every_category_of_the_zhengzhou_file_is_a_station() {
        for category in [
            "工会驿站",
            "爱心驿站",
            "驿站",
            "环卫工驿站",
            "商贸驿站",
            "工心驿站",
        ] {
            assert_eq!(
                ServicePointKind::from_category(category),
                Some(ServicePointKind::OutdoorWorkerStation),
                "{category}"
            );
        }
        assert_eq!(
            ServicePointKind::from_category("女职工休息哺乳室"),
            Some(ServicePointKind::NursingRoom)
        );
        assert_eq!(
            ServicePointKind::from_category(" 司机之家 "),
            Some(ServicePointKind::DriverHome)
        );
        assert_eq!(ServicePointKind::from_category("加油站"), None);
    }

    #[test]
    fn every_amenity_code_of_the_zhengzhou_file_is_known() {
        let expected = [
            ("drink", Amenity::DrinkingWater),
            ("ac", Amenity::AirConditioning),
            ("seat", Amenity::Seating),
            ("charging", Amenity::Charging),
            ("wifi", Amenity::Wifi),
            ("first_aid", Amenity::FirstAid),
        ];
        for (code, amenity) in expected {
            assert_eq!(Amenity::from_import(code), Some(amenity), "{code}");
        }
        assert_eq!(Amenity::from_import("sauna"), None);
        assert_eq!(
            Amenity::parse("drink"),
            None,
            "short codes are for imports only"
        );
    }
}
