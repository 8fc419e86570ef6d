//! The nearest-point index ([`NearbyIndex`]) in memory: every service point that is neither
//! closed nor deleted, in an R-tree, answering "what is near me" in microseconds.
//!
//! Points are kept as unit vectors on the sphere, `[cos φ cos λ, cos φ sin λ, sin φ]` from the
//! GCJ-02 latitude φ and longitude λ, so the straight-line (chord) distance between two of them
//! grows with their great-circle distance: the R-tree's Euclidean nearest-neighbour order *is*
//! the great-circle order, with no trouble at the antimeridian or near the poles. A radius of
//! `r` metres is the chord `2·sin(r / 2R)`. The point answered is recovered from the vector to
//! 6 decimals (about 0.1 m; exactly the stored point when it has no more decimals, as GCJ-02
//! points from WeChat and the maps have), and the distance answered is the domain's haversine
//! ([`GeoPoint::distance_m`]) to it, so the index and a brute-force scan over the same points
//! agree to the bit.
//!
//! Each point costs about 90 bytes in the tree and 23 in the id map, plus its texts: name,
//! address and phone are packed one after another into pages of a MiB ([`Texts`]), and
//! opening hours are interned (a million points with a handful of distinct hours texts share
//! a handful of [`Schedule`]s). See `memory_at_one_million` for what a million points take.
//!
//! The index follows the catalogue through [`ChangeFeed::changes_since`]: the
//! first sync reads every point and bulk-loads a tree; later syncs apply what changed since
//! the last revision seen, removing and inserting (into a second tree: see `State` for why).
//! [`spawn_follower`] syncs on a timer, which is how several API processes on one database
//! stay in step; the process that wrote a change also calls [`NearbyIndex::sync`] right after
//! its write, so its own answers are current at once.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::f64::consts::FRAC_PI_2;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use rstar::{PointDistance, RTree, RTreeObject, RTreeParams, SelectionFunction, AABB};
use yiwang_domain::calendar::WorkingCalendar;
use yiwang_domain::service_point::geo::EARTH_RADIUS_M;
use yiwang_domain::service_point::store::{ChangeFeed, NearbyHit, NearbyIndex, NearbyQuery};
use yiwang_domain::service_point::{
    Amenity, GeoPoint, QualityFlag, Schedule, ServicePoint, ServicePointId, ServicePointKind,
    ServicePointStatus,
};
use yiwang_domain::store::RepoError;

/// Rows asked of [`ChangeFeed::changes_since`] at a time; a shorter page is the
/// last one.
pub const SYNC_PAGE: u32 = 5000;

/// Slack on the squared chord of the radius: the tree only proposes candidates, the haversine
/// distance decides, so a generous margin costs a few distance computations and nothing else.
const CHORD2_RELATIVE_SLACK: f64 = 1e-6;
const CHORD2_ABSOLUTE_SLACK: f64 = 1e-18;

/// A remembered position is the unit vector in steps of 1/32767 (about 200 m on the ground):
/// enough to find the entry again in a few leaves, in 6 bytes.
const POSITION_SCALE: f64 = 32767.0;

/// How far a remembered position may lie from the entry's, on each axis.
const POSITION_SLACK: f64 = 0.5 / POSITION_SCALE + 1e-9;

/// A unit vector, coarsely (see [`POSITION_SCALE`]).
type Position = [i16; 3];

/// Bytes in a page of [`Texts`]: a power of two, so an offset is a page number and a place.
const TEXT_PAGE: usize = 1 << 20;

/// The in-memory [`NearbyIndex`] over the catalogue's [`ChangeFeed`].
pub struct ServicePointIndex {
    repo: Arc<dyn ChangeFeed>,
    state: RwLock<State>,
    /// Held for a whole sync, so two syncs never apply the same page twice out of order; it
    /// owns what only a sync touches.
    sync: tokio::sync::Mutex<Syncer>,
}

impl std::fmt::Debug for ServicePointIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePointIndex")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Wider nodes than rstar's default (3–6): 10 MB less for a million points, queries as fast
/// (measured with `memory_at_one_million`).
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// What queries read and syncs write.
///
/// The points live in two trees. `loaded` is the first load, bulk-loaded, and afterwards only
/// loses entries; `added` holds every entry inserted since, built by insertion alone. The split
/// is there because rstar 0.12's bulk load can put leaves at different depths, depending on the
/// number of elements only, and an insert into such a tree panics ("This is a bug in rstar",
/// georust/rstar#239). With rstar's default parameters the property test ran into it; 49–55,
/// 385 and more, and numbers around 25,000 and 200,000 load lopsided among others. With
/// [`Params`] no such number turned up below 3,000,000, but nothing rules one out. Removal and nearest-neighbour
/// search work on any shape, so the bulk-loaded tree keeps its quality and the inserts go
/// where they are safe. A query walks both trees nearest first and merges.
#[derive(Default)]
struct State {
    loaded: RTree<Entry, Params>,
    added: RTree<Entry, Params>,
    /// Where each point's entry lies, roughly, so an update or a delete can find the old
    /// entry and take it out.
    positions: BTreeMap<ServicePointId, Position>,
    /// The entries' names, addresses and phones.
    texts: Texts,
    /// The change last applied: its counter value and point id (see
    /// [`ChangeFeed::changes_since`]).
    revision: i64,
    after_id: Option<ServicePointId>,
}

/// What only a sync touches.
#[derive(Default)]
struct Syncer {
    schedules: Schedules,
}

/// One point in the tree, kept small: a million of them are the bulk of the index's memory
/// (64 bytes, 80 as a tree node, plus its text in [`Texts`]).
///
/// The node must be larger than the entry. rstar's bulk load splits the element vector with
/// `split_off`, so each slab keeps the capacity of the vector it was cut from, and turns each
/// slab into a leaf with `into_iter().map(RTreeNode::Leaf).collect()`. When `RTreeNode<Entry>`
/// has the size of `Entry` that collect reuses the slab's allocation in place, and the leaves
/// keep those oversized capacities: a million points then took 1.1 GB instead of 0.3 GB.
/// The tree's parent node (72 bytes) is larger than this entry, so every leaf is a fresh,
/// exact allocation. A test checks the sizes.
struct Entry {
    /// Unit vector on the sphere; the GCJ-02 point is recovered from it (see
    /// [`Entry::point`]).
    xyz: [f64; 3],
    /// Interned: points with the same hours share one.
    schedule: Arc<Schedule>,
    id: ServicePointId,
    /// Where name, address and phone start, one after the other, in [`Texts`].
    text_at: u32,
    /// Bit `i` set when the point offers `Amenity::ALL[i]`.
    amenities: u32,
    /// Byte lengths of the name, the address and the phone (0 when there is none).
    name_len: u16,
    address_len: u16,
    phone_len: u16,
    /// Index in [`ServicePointKind::ALL`].
    kind: u8,
    /// Index in [`ServicePointStatus::ALL`], with [`SUSPECT_BIT`] set when the point may lie
    /// in the wrong place (a byte of its own would grow the entry past 64 bytes).
    status: u8,
}

/// The bit of [`Entry::status`] that flags suspect coordinates.
const SUSPECT_BIT: u8 = 0x80;

/// The names, addresses and phones of the entries, packed one after another into pages of
/// [`TEXT_PAGE`] bytes. A million texts in a million allocations would cost the allocator's
/// 8 to 24 bytes each, and a `Box<str>` in the entry 12 bytes more than an offset.
///
/// A removed entry's text stays where it was until dead texts outweigh a quarter of the
/// live ones; then [`State::compact_texts`] copies the live ones into fresh pages.
#[derive(Default)]
struct Texts {
    pages: Vec<String>,
    /// Bytes of texts in use, and of texts whose entry is gone.
    live: usize,
    dead: usize,
}

impl Texts {
    /// Appends the three parts and returns where they start, or `None` past 4 GiB of text
    /// (a u32 offset), which would take some 40 million points.
    fn push(&mut self, parts: [&str; 3]) -> Option<u32> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let fits = self
            .pages
            .last()
            .is_some_and(|page| page.len() + len <= TEXT_PAGE);
        if !fits {
            // Each part is capped at u16::MAX bytes, so three always fit in a fresh page.
            u32::try_from((self.pages.len() + 1) * TEXT_PAGE).ok()?;
            self.pages.push(String::with_capacity(TEXT_PAGE));
        }
        let page_number = self.pages.len() - 1;
        let page = self.pages.last_mut()?;
        let at = u32::try_from(page_number * TEXT_PAGE + page.len()).ok()?;
        parts.iter().for_each(|part| page.push_str(part));
        self.live += len;
        Some(at)
    }

    /// The `len` bytes at `at` (empty if they are not a text pushed here).
    fn get(&self, at: u32, len: usize) -> &str {
        let at = at as usize;
        let start = at % TEXT_PAGE;
        self.pages
            .get(at / TEXT_PAGE)
            .and_then(|page| page.get(start..start + len))
            .unwrap_or("")
    }

    /// Counts the `len` bytes of a removed entry's text as dead.
    fn release(&mut self, len: usize) {
        self.live = self.live.saturating_sub(len);
        self.dead += len;
    }

    fn wants_compaction(&self) -> bool {
        self.dead > self.live / 4 + TEXT_PAGE
    }
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for Entry {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        chord2(self.xyz, *point)
    }
}

fn chord2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

/// The unit vector of a GCJ-02 point.
fn unit_vector(point: GeoPoint) -> [f64; 3] {
    let (sin_phi, cos_phi) = point.lat.to_radians().sin_cos();
    let (sin_lambda, cos_lambda) = point.lng.to_radians().sin_cos();
    [cos_phi * cos_lambda, cos_phi * sin_lambda, sin_phi]
}

/// `value` rounded to 6 decimals: the nearest `f64` to the 6-decimal number, as parsing its
/// text gives.
fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// The squared chord of a great-circle distance of `radius_m` (at most the diameter's).
fn radius_chord2(radius_m: f64) -> f64 {
    let half_angle = (radius_m / (2.0 * EARTH_RADIUS_M)).clamp(0.0, FRAC_PI_2);
    let chord = 2.0 * half_angle.sin();
    chord * chord
}

fn amenity_mask(amenities: &[Amenity]) -> u32 {
    amenities.iter().fold(0, |mask, a| {
        match Amenity::ALL.iter().position(|b| b == a) {
            Some(bit) => mask | (1 << bit),
            None => mask,
        }
    })
}

/// Where `value` is in `all` (every value is there: `all` is the type's `ALL`).
fn index_of<T: PartialEq>(all: &[T], value: T) -> u8 {
    let i = all.iter().position(|v| *v == value).unwrap_or(0);
    u8::try_from(i).unwrap_or(0)
}

/// The longest prefix of `s` of at most `u16::MAX` bytes ending on a character boundary.
/// Validated texts are far shorter; this only keeps a malformed row from corrupting the
/// layout.
fn capped(s: &str) -> &str {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Entry {
    /// The entry of a point, its text appended to `texts`, or `None` when it must not be
    /// answered (closed or deleted; or the texts are full, which is logged).
    fn of(point: &ServicePoint, schedules: &mut Schedules, texts: &mut Texts) -> Option<Entry> {
        let draft = &point.draft;
        if point.deleted_at.is_some() || draft.status == ServicePointStatus::Closed {
            return None;
        }
        let name = capped(&draft.name);
        let address = capped(&draft.address);
        let phone = capped(draft.phone.as_deref().unwrap_or(""));
        let Some(text_at) = texts.push([name, address, phone]) else {
            tracing::error!(id = %point.id, "service point index: 4 GiB of texts, point left out");
            return None;
        };
        Some(Entry {
            xyz: unit_vector(draft.point),
            schedule: schedules.intern(&draft.schedule),
            id: point.id,
            text_at,
            amenities: amenity_mask(&draft.amenities),
            name_len: u16::try_from(name.len()).unwrap_or(u16::MAX),
            address_len: u16::try_from(address.len()).unwrap_or(u16::MAX),
            phone_len: u16::try_from(phone.len()).unwrap_or(u16::MAX),
            kind: index_of(&ServicePointKind::ALL, draft.kind),
            status: index_of(&ServicePointStatus::ALL, draft.status)
                | if draft.quality_flag == Some(QualityFlag::SuspectCoordinates) {
                    SUSPECT_BIT
                } else {
                    0
                },
        })
    }

    fn text_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.address_len) + usize::from(self.phone_len)
    }

    /// Name, address and phone (empty when there is none).
    fn texts<'t>(&self, texts: &'t Texts) -> (&'t str, &'t str, &'t str) {
        let text = texts.get(self.text_at, self.text_len());
        let (name, rest) = text
            .split_at_checked(usize::from(self.name_len))
            .unwrap_or_default();
        let (address, phone) = rest
            .split_at_checked(usize::from(self.address_len))
            .unwrap_or_default();
        (name, address, phone)
    }

    fn kind(&self) -> ServicePointKind {
        ServicePointKind::ALL
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or(ServicePointKind::Other)
    }

    fn status(&self) -> ServicePointStatus {
        ServicePointStatus::ALL
            .get(usize::from(self.status & !SUSPECT_BIT))
            .copied()
            .unwrap_or(ServicePointStatus::TemporarilyClosed)
    }

    /// The GCJ-02 point, recovered from the unit vector and rounded to 6 decimals (about
    /// 0.1 m): exactly the stored point when it has at most 6 decimals, as WeChat's and the
    /// maps' coordinates do. Keeping the two coordinates besides would cost 16 MB a million
    /// points.
    fn point(&self) -> GeoPoint {
        let [x, y, z] = self.xyz;
        GeoPoint {
            lat: round6(z.atan2(x.hypot(y)).to_degrees()),
            lng: round6(y.atan2(x).to_degrees()),
        }
    }

    fn position(&self) -> Position {
        // Components are in [-1, 1], so the steps fit an i16 (and `as` saturates anyway).
        self.xyz.map(|c| (c * POSITION_SCALE).round() as i16)
    }

    fn open_now(&self, at: NaiveDateTime, calendar: &WorkingCalendar) -> Option<bool> {
        match self.status() {
            ServicePointStatus::Open => self.schedule.is_open_at(at, calendar),
            ServicePointStatus::TemporarilyClosed | ServicePointStatus::Closed => Some(false),
        }
    }

    fn hit(
        &self,
        texts: &Texts,
        distance_m: f64,
        open_now: Option<bool>,
        at: NaiveDateTime,
        calendar: &WorkingCalendar,
    ) -> NearbyHit {
        let open = self.status() == ServicePointStatus::Open;
        let (name, address, phone) = self.texts(texts);
        NearbyHit {
            id: self.id,
            name: name.to_owned(),
            kind: self.kind(),
            address: address.to_owned(),
            phone: Some(phone).filter(|p| !p.is_empty()).map(str::to_owned),
            point: self.point(),
            amenities: Amenity::ALL
                .iter()
                .enumerate()
                .filter(|(bit, _)| self.amenities & (1 << bit) != 0)
                .map(|(_, a)| *a)
                .collect(),
            status: self.status(),
            distance_m,
            open_now,
            hours_today: self
                .schedule
                .intervals_on(at.date(), calendar)
                .map(|today| if open { today } else { Vec::new() }),
            closes_at: self.schedule.closes_at(at, calendar).filter(|_| open),
            suspect_coordinates: self.status & SUSPECT_BIT != 0,
        }
    }
}

/// Interned schedules, keyed by their text and exceptions.
#[derive(Default)]
struct Schedules {
    by_key: HashMap<String, Arc<Schedule>>,
    /// Size at which unused schedules are next dropped.
    collect_at: usize,
}

impl Schedules {
    fn intern(&mut self, schedule: &Schedule) -> Arc<Schedule> {
        let key: Cow<'_, str> = if schedule.exceptions.is_empty() {
            Cow::Borrowed(&schedule.text)
        } else {
            Cow::Owned(format!("{}\u{0}{:?}", schedule.text, schedule.exceptions))
        };
        if let Some(found) = self.by_key.get(key.as_ref()) {
            // The key names the text, which decides the hours; compare anyway, and keep an
            // odd one apart rather than answer with another point's hours.
            return if **found == *schedule {
                Arc::clone(found)
            } else {
                Arc::new(schedule.clone())
            };
        }
        let shared = Arc::new(schedule.clone());
        self.by_key.insert(key.into_owned(), Arc::clone(&shared));
        shared
    }

    /// Drops the schedules no entry uses any more, once their number has doubled.
    fn collect_garbage(&mut self) {
        if self.by_key.len() >= self.collect_at {
            self.by_key.retain(|_, s| Arc::strong_count(s) > 1);
            self.collect_at = (self.by_key.len() * 2).max(64);
        }
    }
}

/// Selects the entry of one id, searching only the nodes around where it was put.
struct EntryOf {
    id: ServicePointId,
    near: Option<[f64; 3]>,
}

impl SelectionFunction<Entry> for EntryOf {
    fn should_unpack_parent(&self, envelope: &AABB<[f64; 3]>) -> bool {
        let Some(near) = self.near else {
            return true;
        };
        let (lower, upper) = (envelope.lower(), envelope.upper());
        (0..3).all(|i| lower[i] - POSITION_SLACK <= near[i] && near[i] <= upper[i] + POSITION_SLACK)
    }

    fn should_unpack_leaf(&self, leaf: &Entry) -> bool {
        leaf.id == self.id
    }
}

impl State {
    fn len(&self) -> usize {
        self.loaded.size() + self.added.size()
    }

    /// Takes the entry of `id` out, if there is one.
    fn remove(&mut self, id: ServicePointId) {
        let Some(position) = self.positions.remove(&id) else {
            return;
        };
        if !self.take(id, Some(position.map(|q| f64::from(q) / POSITION_SCALE))) {
            // Cannot happen while `positions` and the trees agree; recover by a full search.
            tracing::warn!(%id, "service point index: entry not where it was put");
            self.take(id, None);
        }
    }

    fn take(&mut self, id: ServicePointId, near: Option<[f64; 3]>) -> bool {
        let removed = [&mut self.added, &mut self.loaded]
            .into_iter()
            .find_map(|tree| tree.remove_with_selection_function(EntryOf { id, near }));
        removed
            .map(|entry| self.texts.release(entry.text_len()))
            .is_some()
    }

    fn insert(&mut self, entry: Entry) {
        self.positions.insert(entry.id, entry.position());
        self.added.insert(entry);
    }

    /// Copies the live texts into fresh pages once dead ones weigh too much (see [`Texts`]).
    fn compact_texts(&mut self) {
        if !self.texts.wants_compaction() {
            return;
        }
        let mut fresh = Texts::default();
        for entry in self.loaded.iter_mut().chain(self.added.iter_mut()) {
            let (name, address, phone) = entry.texts(&self.texts);
            // Never more than before, so never full.
            entry.text_at = fresh.push([name, address, phone]).unwrap_or(0);
        }
        self.texts = fresh;
    }

    /// Every entry with its squared chord from `from`, nearest first, from both trees.
    fn nearest(&self, from: [f64; 3]) -> impl Iterator<Item = (&Entry, f64)> + '_ {
        let mut loaded = self
            .loaded
            .nearest_neighbor_iter_with_distance_2(from)
            .peekable();
        let mut added = self
            .added
            .nearest_neighbor_iter_with_distance_2(from)
            .peekable();
        std::iter::from_fn(move || match (loaded.peek(), added.peek()) {
            (Some((_, a)), Some((_, b))) if b < a => added.next(),
            (Some(_), _) => loaded.next(),
            (None, _) => added.next(),
        })
    }
}

/// Where the next page starts: after the last point of this one (pages come in change order).
fn after_page(
    last: (i64, Option<ServicePointId>),
    points: &[ServicePoint],
) -> (i64, Option<ServicePointId>) {
    points.last().map_or(last, |p| (p.revision, Some(p.id)))
}

impl ServicePointIndex {
    /// An empty index over `repo`; the first [`NearbyIndex::sync`] fills it.
    pub fn new(repo: Arc<dyn ChangeFeed>) -> Self {
        Self {
            repo,
            state: RwLock::new(State::default()),
            sync: tokio::sync::Mutex::new(Syncer::default()),
        }
    }

    /// The last change-counter value applied (0 before the first sync).
    pub fn revision(&self) -> i64 {
        self.read().revision
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first load: every row collected, then one bulk load (a better tree than a million
    /// inserts, in a fraction of the time). A point read twice (written again while the pages
    /// were read) keeps its last version. On an error the rows read so far are installed, and
    /// the next sync goes on from there.
    async fn load_all(
        &self,
        syncer: &mut Syncer,
        mut last: (i64, Option<ServicePointId>),
    ) -> Result<usize, RepoError> {
        let mut entries: Vec<Option<Entry>> = Vec::new();
        let mut texts = Texts::default();
        let mut slots: HashMap<ServicePointId, usize> = HashMap::new();
        let mut changed = 0;
        let outcome = loop {
            let points = match self.repo.changes_since(last.0, last.1, SYNC_PAGE).await {
                Ok(points) => points,
                Err(e) => break Err(e),
            };
            let next = after_page(last, &points);
            for point in &points {
                let entry = Entry::of(point, &mut syncer.schedules, &mut texts);
                match slots.get(&point.id) {
                    Some(&slot) => {
                        if let Some(old) = std::mem::replace(&mut entries[slot], entry) {
                            texts.release(old.text_len());
                        }
                    }
                    None => {
                        slots.insert(point.id, entries.len());
                        entries.push(entry);
                    }
                }
            }
            changed += points.len();
            last = next;
            if points.len() < SYNC_PAGE as usize {
                break Ok(changed);
            }
        };
        drop(slots);
        let entries: Vec<Entry> = entries.into_iter().flatten().collect();
        let positions: BTreeMap<ServicePointId, Position> =
            entries.iter().map(|e| (e.id, e.position())).collect();
        let tree = RTree::bulk_load_with_params(entries);
        {
            let mut state = self.write();
            state.loaded = tree;
            state.added = RTree::new_with_params();
            state.positions = positions;
            state.texts = texts;
            state.compact_texts();
            (state.revision, state.after_id) = last;
        }
        syncer.schedules.collect_garbage();
        outcome
    }
}

#[async_trait]
impl NearbyIndex for ServicePointIndex {
    fn nearby(
        &self,
        query: &NearbyQuery,
        at: NaiveDateTime,
        calendar: &WorkingCalendar,
    ) -> Vec<NearbyHit> {
        let finite = query.from.lat.is_finite() && query.from.lng.is_finite();
        if query.limit == 0 || !finite || query.radius_m.is_nan() || query.radius_m < 0.0 {
            return Vec::new();
        }
        let from = unit_vector(query.from);
        let bound =
            radius_chord2(query.radius_m) * (1.0 + CHORD2_RELATIVE_SLACK) + CHORD2_ABSOLUTE_SLACK;
        let wanted = amenity_mask(&query.amenities);
        let state = self.read();
        let mut hits = Vec::new();
        for (entry, d2) in state.nearest(from) {
            if d2 > bound {
                break;
            }
            if query.kind.is_some_and(|k| k != entry.kind()) || entry.amenities & wanted != wanted {
                continue;
            }
            let distance_m = query.from.distance_m(entry.point());
            if distance_m > query.radius_m {
                continue;
            }
            let open_now = entry.open_now(at, calendar);
            if query.open_now && open_now != Some(true) {
                continue;
            }
            hits.push(entry.hit(&state.texts, distance_m, open_now, at, calendar));
            if hits.len() == query.limit {
                break;
            }
        }
        drop(state);
        // Chord order is great-circle order; this only settles last-bit disagreements between
        // the two computations, so the answer is ordered by the distance it shows.
        hits.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        hits
    }

    async fn sync(&self) -> Result<usize, RepoError> {
        let mut syncer = self.sync.lock().await;
        let (mut last, empty) = {
            let state = self.read();
            ((state.revision, state.after_id), state.len() == 0)
        };
        if empty {
            return self.load_all(&mut syncer, last).await;
        }
        let mut changed = 0;
        loop {
            let points = self.repo.changes_since(last.0, last.1, SYNC_PAGE).await?;
            let next = after_page(last, &points);
            {
                let mut state = self.write();
                for point in &points {
                    state.remove(point.id);
                    if let Some(entry) = Entry::of(point, &mut syncer.schedules, &mut state.texts) {
                        state.insert(entry);
                    }
                }
                state.compact_texts();
                (state.revision, state.after_id) = next;
            }
            syncer.schedules.collect_garbage();
            changed += points.len();
            last = next;
            if points.len() < SYNC_PAGE as usize {
                return Ok(changed);
            }
        }
    }

    fn len(&self) -> usize {
        self.read().len()
    }
}

/// Starts a task that calls [`NearbyIndex::sync`] every `every` (the first at once), logging a
/// failure with `tracing::warn!` and trying again at the next tick.
///
/// This is how several API processes sharing one database stay in step: each follows the
/// change counter, so a change written by one is answered by all the others within `every`.
/// The process that wrote a change does not wait for the tick: it calls
/// [`NearbyIndex::sync`] right after its write, so its own answers are current at once.
///
/// The task holds the index weakly and ends when the index is dropped; abort the handle to
/// stop it sooner.
pub fn spawn_follower(
    index: Arc<ServicePointIndex>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let index: Weak<ServicePointIndex> = Arc::downgrade(&index);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(index) = index.upgrade() else {
                return;
            };
            if let Err(error) = index.sync().await {
                tracing::warn!(%error, "service point index: sync failed; will retry");
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    use chrono::{NaiveDate, Utc};
    use proptest::prelude::*;

    use yiwang_domain::org::{OrgId, OrgPath};

    use yiwang_domain::service_point::ServicePointDraft;

    use super::*;

    /// The catalogue in memory: the latest version of each point, and the change counter.
    #[derive(Default)]
    struct FakeRepo {
        rows: Mutex<(Vec<ServicePoint>, i64)>,
        fail_next: AtomicBool,
    }

    impl FakeRepo {
        fn put(&self, mut point: ServicePoint) {
            let mut rows = self.rows.lock().unwrap();
            rows.1 += 1;
            point.revision = rows.1;
            rows.0.retain(|p| p.id != point.id);
            rows.0.push(point);
        }

        fn delete(&self, id: ServicePointId) {
            let mut point = self.current(id);
            point.deleted_at = Some(Utc::now());
            self.put(point);
        }

        fn current(&self, id: ServicePointId) -> ServicePoint {
            let rows = self.rows.lock().unwrap();
            rows.0.iter().find(|p| p.id == id).cloned().unwrap()
        }

        fn all(&self) -> Vec<ServicePoint> {
            self.rows.lock().unwrap().0.clone()
        }
    }

    #[async_trait]
    impl ChangeFeed for FakeRepo {
        async fn changes_since(
            &self,
            revision: i64,
            after_id: Option<ServicePointId>,
            limit: u32,
        ) -> Result<Vec<ServicePoint>, RepoError> {
            if self.fail_next.swap(false, Ordering::SeqCst) {
                return Err(RepoError::Unexpected("database away".into()));
            }
            let rows = self.rows.lock().unwrap();
            let mut changed: Vec<_> = rows
                .0
                .iter()
                .filter(|p| (p.revision, Some(p.id)) > (revision, after_id))
                .cloned()
                .collect();
            changed.sort_by_key(|p| (p.revision, p.id));
            changed.truncate(limit as usize);
            Ok(changed)
        }

        async fn revision(&self) -> Result<i64, RepoError> {
            Ok(self.rows.lock().unwrap().1)
        }
    }

    /// Answers `changes_since` with pages given in advance, whatever is asked.
    struct ScriptedRepo {
        pages: Mutex<VecDeque<Vec<ServicePoint>>>,
    }

    #[async_trait]
    impl ChangeFeed for ScriptedRepo {
        async fn changes_since(
            &self,
            _: i64,
            _: Option<ServicePointId>,
            _: u32,
        ) -> Result<Vec<ServicePoint>, RepoError> {
            Ok(self.pages.lock().unwrap().pop_front().unwrap_or_default())
        }

        async fn revision(&self) -> Result<i64, RepoError> {
            Ok(0)
        }
    }

    struct Spot {
        lat: f64,
        lng: f64,
        kind: ServicePointKind,
        amenities: Vec<Amenity>,
        hours: &'static str,
        status: ServicePointStatus,
    }

    impl Default for Spot {
        fn default() -> Self {
            Spot {
                lat: 34.7571,
                lng: 113.7783,
                kind: ServicePointKind::OutdoorWorkerStation,
                amenities: Vec::new(),
                hours: "24小时",
                status: ServicePointStatus::Open,
            }
        }
    }

    fn point_with_id(id: ServicePointId, spot: Spot) -> ServicePoint {
        let org = OrgId::new();
        let now = Utc::now();
        ServicePoint {
            id,
            org_id: org,
            org_path: OrgPath::root(org),
            draft: ServicePointDraft {
                name: format!("驿站 {id}"),
                kind: spot.kind,
                address: "郑州市金水区花园路 1 号".into(),
                province: None,
                city: None,
                district: None,
                point: GeoPoint::new(round6(spot.lat), round6(spot.lng)).unwrap(),
                schedule: Schedule::from_text(spot.hours),
                amenities: spot.amenities,
                phone: Some("0371-12345678".into()),
                status: spot.status,
                star_grade: None,
                quality_flag: None,
                quality_note: None,
                external_id: None,
            },
            rating_average: None,
            rating_count: 0,
            revision: 0,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn point(spot: Spot) -> ServicePoint {
        point_with_id(ServicePointId::new(), spot)
    }

    fn index_over(repo: &Arc<FakeRepo>) -> ServicePointIndex {
        ServicePointIndex::new(Arc::clone(repo) as Arc<dyn ChangeFeed>)
    }

    fn query(lat: f64, lng: f64, radius_m: f64) -> NearbyQuery {
        NearbyQuery {
            from: GeoPoint::new(lat, lng).unwrap(),
            radius_m,
            kind: None,
            amenities: Vec::new(),
            open_now: false,
            limit: 100,
        }
    }

    /// Monday 2026-11-23.
    fn monday(time: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(&format!("2026-11-23 {time}"), "%Y-%m-%d %H:%M").unwrap()
    }

    fn ask(index: &ServicePointIndex, q: &NearbyQuery) -> Vec<NearbyHit> {
        index.nearby(q, monday("12:00"), &WorkingCalendar::default())
    }

    fn ids(hits: &[NearbyHit]) -> Vec<ServicePointId> {
        hits.iter().map(|h| h.id).collect()
    }

    /// A point `north_m` metres north of (34.75, 113.65).
    fn north(north_m: f64) -> Spot {
        Spot {
            lat: 34.75 + north_m / 111_195.08,
            lng: 113.65,
            ..Spot::default()
        }
    }

    #[tokio::test]
    async fn answers_are_nearest_first_and_within_the_radius() {
        let repo = Arc::new(FakeRepo::default());
        let metres = [3000.0, 10.0, 900.0, 12_000.0, 250.0, 4999.0, 5001.0];
        let points: Vec<_> = metres.iter().map(|m| point(north(*m))).collect();
        for p in &points {
            repo.put(p.clone());
        }
        let index = index_over(&repo);
        assert_eq!(index.sync().await.unwrap(), metres.len());
        assert_eq!(index.len(), metres.len());
        assert!(!index.is_empty());

        let hits = ask(&index, &query(34.75, 113.65, 5000.0));
        let expected: Vec<_> = [1, 4, 2, 0, 5].iter().map(|i| points[*i].id).collect();
        assert_eq!(ids(&hits), expected);
        assert!(hits.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
        assert!(hits.iter().all(|h| h.distance_m <= 5000.0));
        assert!(
            (hits[0].distance_m - 10.0).abs() < 0.1,
            "{}",
            hits[0].distance_m
        );

        let first = &hits[0];
        let stored = &points[1];
        assert_eq!(first.name, stored.draft.name);
        assert_eq!(first.address, stored.draft.address);
        assert_eq!(first.phone, stored.draft.phone);
        assert_eq!(first.point, stored.draft.point);
        assert_eq!(first.kind, stored.draft.kind);
        assert_eq!(first.status, ServicePointStatus::Open);
        assert_eq!(first.open_now, Some(true));

        assert!(ask(&index, &query(34.75, 113.65, 5.0)).is_empty());
        assert!(ask(&index, &query(20.0, 100.0, 50_000.0)).is_empty());
    }

    #[tokio::test]
    async fn kind_and_amenity_filters() {
        let repo = Arc::new(FakeRepo::default());
        let station = point(Spot {
            amenities: vec![Amenity::DrinkingWater, Amenity::Charging],
            ..north(100.0)
        });
        let home = point(Spot {
            kind: ServicePointKind::DriverHome,
            amenities: vec![Amenity::DrinkingWater, Amenity::Shower, Amenity::Parking],
            ..north(200.0)
        });
        let bare = point(north(300.0));
        for p in [&station, &home, &bare] {
            repo.put(p.clone());
        }
        let index = index_over(&repo);
        index.sync().await.unwrap();

        let mut q = query(34.75, 113.65, 1000.0);
        q.kind = Some(ServicePointKind::DriverHome);
        assert_eq!(ids(&ask(&index, &q)), vec![home.id]);

        let mut q = query(34.75, 113.65, 1000.0);
        q.amenities = vec![Amenity::DrinkingWater];
        assert_eq!(ids(&ask(&index, &q)), vec![station.id, home.id]);
        q.amenities = vec![Amenity::DrinkingWater, Amenity::Charging];
        assert_eq!(ids(&ask(&index, &q)), vec![station.id]);
        q.amenities = vec![Amenity::Charging, Amenity::Shower];
        assert!(ask(&index, &q).is_empty());

        let hits = ask(&index, &query(34.75, 113.65, 1000.0));
        assert_eq!(
            hits[1].amenities,
            vec![Amenity::DrinkingWater, Amenity::Shower, Amenity::Parking]
        );
        assert!(hits[2].amenities.is_empty());
    }

    #[tokio::test]
    async fn open_now_follows_the_hours() {
        let repo = Arc::new(FakeRepo::default());
        let daytime = point(Spot {
            hours: "08:00-20:00",
            ..north(100.0)
        });
        let unknown = point(Spot {
            hours: "工作日开放",
            ..north(200.0)
        });
        let always = point(Spot {
            hours: "24小时",
            ..north(300.0)
        });
        for p in [&daytime, &unknown, &always] {
            repo.put(p.clone());
        }
        let index = index_over(&repo);
        index.sync().await.unwrap();
        let calendar = WorkingCalendar::default();

        let mut q = query(34.75, 113.65, 1000.0);
        let early = index.nearby(&q, monday("07:00"), &calendar);
        let opens: Vec<_> = early.iter().map(|h| h.open_now).collect();
        assert_eq!(opens, vec![Some(false), None, Some(true)]);
        let later = index.nearby(&q, monday("09:00"), &calendar);
        let opens: Vec<_> = later.iter().map(|h| h.open_now).collect();
        assert_eq!(opens, vec![Some(true), None, Some(true)]);

        q.open_now = true;
        let early = index.nearby(&q, monday("07:00"), &calendar);
        assert_eq!(ids(&early), vec![always.id]);
        let later = index.nearby(&q, monday("09:00"), &calendar);
        assert_eq!(ids(&later), vec![daytime.id, always.id]);
    }

    #[tokio::test]
    async fn a_temporarily_closed_point_is_shown_but_never_open() {
        let repo = Arc::new(FakeRepo::default());
        let paused = point(Spot {
            status: ServicePointStatus::TemporarilyClosed,
            hours: "24小时",
            ..north(100.0)
        });
        repo.put(paused.clone());
        let index = index_over(&repo);
        index.sync().await.unwrap();

        let mut q = query(34.75, 113.65, 1000.0);
        let hits = ask(&index, &q);
        assert_eq!(ids(&hits), vec![paused.id]);
        assert_eq!(hits[0].open_now, Some(false));
        assert_eq!(hits[0].status, ServicePointStatus::TemporarilyClosed);
        q.open_now = true;
        assert!(ask(&index, &q).is_empty());
    }

    #[tokio::test]
    async fn an_update_moves_a_point() {
        let repo = Arc::new(FakeRepo::default());
        let other = point(north(50.0));
        let moving = point(north(100.0));
        repo.put(other.clone());
        repo.put(moving.clone());
        let index = index_over(&repo);
        index.sync().await.unwrap();

        let mut moved = moving.clone();
        moved.draft.point = GeoPoint::new(31.2304, 121.4737).unwrap();
        moved.draft.name = "上海驿站".into();
        repo.put(moved);
        assert_eq!(index.sync().await.unwrap(), 1);
        assert_eq!(index.len(), 2);

        assert_eq!(
            ids(&ask(&index, &query(34.75, 113.65, 1000.0))),
            vec![other.id]
        );
        let there = ask(&index, &query(31.2304, 121.4737, 10.0));
        assert_eq!(ids(&there), vec![moving.id]);
        assert_eq!(there[0].name, "上海驿站");
        assert_eq!(there[0].distance_m, 0.0);
    }

    #[tokio::test]
    async fn deleted_and_closed_points_leave_the_index() {
        let repo = Arc::new(FakeRepo::default());
        let stays = point(north(10.0));
        let deleted = point(north(20.0));
        let closed = point(north(30.0));
        for p in [&stays, &deleted, &closed] {
            repo.put(p.clone());
        }
        let index = index_over(&repo);
        assert_eq!(index.sync().await.unwrap(), 3);
        assert_eq!(index.len(), 3);

        repo.delete(deleted.id);
        let mut shut = closed.clone();
        shut.draft.status = ServicePointStatus::Closed;
        repo.put(shut);
        assert_eq!(index.sync().await.unwrap(), 2);
        assert_eq!(index.len(), 1);
        assert_eq!(
            ids(&ask(&index, &query(34.75, 113.65, 1000.0))),
            vec![stays.id]
        );

        // Reopened: back in.
        let mut reopened = closed.clone();
        reopened.draft.status = ServicePointStatus::Open;
        repo.put(reopened);
        assert_eq!(index.sync().await.unwrap(), 1);
        assert_eq!(
            ids(&ask(&index, &query(34.75, 113.65, 1000.0))),
            vec![stays.id, closed.id]
        );
        assert_eq!(index.sync().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn closed_and_deleted_points_are_not_loaded_at_all() {
        let repo = Arc::new(FakeRepo::default());
        let open = point(north(10.0));
        let gone = point(north(20.0));
        repo.put(open.clone());
        repo.put(gone.clone());
        repo.put(point(Spot {
            status: ServicePointStatus::Closed,
            ..north(30.0)
        }));
        repo.delete(gone.id);
        let index = index_over(&repo);
        assert_eq!(index.sync().await.unwrap(), 3);
        assert_eq!(index.len(), 1);
        assert_eq!(index.revision(), 4);
    }

    #[tokio::test]
    async fn the_limit_is_respected() {
        let repo = Arc::new(FakeRepo::default());
        for m in 1..=30 {
            repo.put(point(north(f64::from(m) * 10.0)));
        }
        let index = index_over(&repo);
        index.sync().await.unwrap();
        let mut q = query(34.75, 113.65, 50_000.0);
        q.limit = 7;
        let hits = ask(&index, &q);
        assert_eq!(hits.len(), 7);
        assert!((hits[6].distance_m - 70.0).abs() < 0.1);
        q.limit = 0;
        assert!(ask(&index, &q).is_empty());
        q.limit = 100;
        assert_eq!(ask(&index, &q).len(), 30);
    }

    #[tokio::test]
    async fn many_pages_load_and_follow() {
        let repo = Arc::new(FakeRepo::default());
        let count = SYNC_PAGE as usize * 2 + 123;
        let mut points = Vec::new();
        for i in 0..count {
            // A grid around Zhengzhou, about 100 m apart.
            let spot = Spot {
                lat: 34.0 + (i / 100) as f64 * 0.001,
                lng: 113.0 + (i % 100) as f64 * 0.001,
                ..Spot::default()
            };
            let p = point(spot);
            repo.put(p.clone());
            points.push(p);
        }
        let index = index_over(&repo);
        assert_eq!(index.sync().await.unwrap(), count);
        assert_eq!(index.len(), count);

        // Move every other point a little east, over more than one page, and delete some.
        for p in points.iter().step_by(2) {
            let mut moved = p.clone();
            moved.draft.point.lng += 0.0002;
            repo.put(moved);
        }
        for p in points.iter().skip(1).step_by(10) {
            repo.delete(p.id);
        }
        let updated = count.div_ceil(2) + (count - 1).div_ceil(10);
        assert_eq!(index.sync().await.unwrap(), updated);
        assert_eq!(index.len(), count - (count - 1).div_ceil(10));

        let q = query(points[0].draft.point.lat, points[0].draft.point.lng, 30.0);
        let hits = ask(&index, &q);
        assert_eq!(ids(&hits), vec![points[0].id]);
        assert!(
            (hits[0].distance_m - 18.2).abs() < 0.5,
            "{}",
            hits[0].distance_m
        );
        let q = query(points[1].draft.point.lat, points[1].draft.point.lng, 30.0);
        assert!(ask(&index, &q).is_empty(), "deleted");
    }

    #[tokio::test]
    async fn a_point_read_twice_in_the_first_load_keeps_its_last_version() {
        let x = ServicePointId::new();
        let y = ServicePointId::new();
        let mut first = Vec::new();
        for i in 0..SYNC_PAGE {
            let mut p = point(north(f64::from(i) * 10.0 + 1000.0));
            p.revision = i64::from(i) + 1;
            first.push(p);
        }
        let mut x1 = point_with_id(x, north(0.0));
        x1.revision = 1;
        first[0] = x1;
        let mut y1 = point_with_id(y, north(100.0));
        y1.revision = 2;
        first[1] = y1;
        let mut x2 = point_with_id(x, north(500.0));
        x2.revision = i64::from(SYNC_PAGE) + 5;
        let mut y2 = point_with_id(y, north(100.0));
        y2.deleted_at = Some(Utc::now());
        y2.revision = i64::from(SYNC_PAGE) + 6;
        let repo = ScriptedRepo {
            pages: Mutex::new(VecDeque::from([first, vec![x2, y2]])),
        };
        let index = ServicePointIndex::new(Arc::new(repo));
        assert_eq!(index.sync().await.unwrap(), SYNC_PAGE as usize + 2);
        assert_eq!(index.len(), SYNC_PAGE as usize - 1);
        assert_eq!(index.revision(), i64::from(SYNC_PAGE) + 6);
        let hits = ask(&index, &query(34.75, 113.65, 600.0));
        assert_eq!(ids(&hits), vec![x]);
        assert!((hits[0].distance_m - 500.0).abs() < 0.1);
    }

    /// The bulk-loaded tree only ever loses entries; inserts go to the other (see `State`).
    #[tokio::test]
    async fn changes_after_the_bulk_load_go_to_the_second_tree() {
        let repo = Arc::new(FakeRepo::default());
        let mut points = Vec::new();
        for i in 0..60 {
            let p = point(north(f64::from(i) * 2.0));
            repo.put(p.clone());
            points.push(p);
        }
        let index = index_over(&repo);
        index.sync().await.unwrap();
        assert_eq!(index.read().loaded.size(), 60);

        for i in 0..200 {
            repo.put(point(north(f64::from(i) * 2.0 + 1.0)));
        }
        for p in points.iter().step_by(3) {
            let mut moved = p.clone();
            moved.draft.point.lat += 0.0001;
            repo.put(moved);
        }
        for p in points.iter().skip(1).step_by(3) {
            repo.delete(p.id);
        }
        index.sync().await.unwrap();
        {
            let state = index.read();
            assert_eq!(state.loaded.size(), 60 - 20 - 20);
            assert_eq!(state.added.size(), 200 + 20);
            assert_eq!(state.positions.len(), 240);
        }
        assert_eq!(index.len(), 240);
        let hits = ask(&index, &query(34.75, 113.65, 50_000.0));
        assert_eq!(hits.len(), 100);
        assert!(hits.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
        assert!((hits[0].distance_m - 1.0).abs() < 0.1);
        assert!(hits
            .iter()
            .all(|h| !points[1..].iter().step_by(3).any(|p| p.id == h.id)));
    }

    #[tokio::test]
    async fn concurrent_syncs_apply_each_change_once() {
        let repo = Arc::new(FakeRepo::default());
        for m in 0..50 {
            repo.put(point(north(f64::from(m))));
        }
        let index = Arc::new(index_over(&repo));
        let (a, b) = tokio::join!(index.sync(), index.sync());
        assert_eq!(a.unwrap() + b.unwrap(), 50);
        assert_eq!(index.len(), 50);
        for p in repo.all().into_iter().take(10) {
            let mut moved = p;
            moved.draft.point.lat += 1.0;
            repo.put(moved);
        }
        let (a, b) = tokio::join!(index.sync(), index.sync());
        assert_eq!(a.unwrap() + b.unwrap(), 10);
        assert_eq!(index.len(), 50);
    }

    #[tokio::test]
    async fn the_follower_keeps_up_and_survives_failures() {
        let repo = Arc::new(FakeRepo::default());
        let index = Arc::new(index_over(&repo));
        repo.fail_next.store(true, Ordering::SeqCst);
        let follower = spawn_follower(Arc::clone(&index), Duration::from_millis(5));
        repo.put(point(north(1.0)));
        let deadline = Instant::now() + Duration::from_secs(5);
        while index.len() < 1 {
            assert!(Instant::now() < deadline, "the follower never caught up");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            !repo.fail_next.load(Ordering::SeqCst),
            "the failure was met"
        );
        repo.put(point(north(2.0)));
        while index.len() < 2 {
            assert!(Instant::now() < deadline, "the follower stopped");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(index);
        tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("the follower ends with its index")
            .unwrap();
    }

    #[test]
    fn schedules_are_shared_and_dropped_when_unused() {
        let mut schedules = Schedules::default();
        let a = schedules.intern(&Schedule::from_text("08:00-20:00"));
        let b = schedules.intern(&Schedule::from_text("08:00-20:00"));
        assert!(Arc::ptr_eq(&a, &b));
        let mut holiday = Schedule::from_text("08:00-20:00");
        holiday.exceptions = vec![yiwang_domain::service_point::hours::DatedException {
            date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            intervals: Vec::new(),
        }];
        let c = schedules.intern(&holiday);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(*c, holiday);
        drop((a, b));
        schedules.collect_at = 0;
        schedules.collect_garbage();
        assert_eq!(schedules.by_key.len(), 1);
    }

    #[test]
    fn texts_split_back_into_their_fields() {
        let (mut schedules, mut texts) = (Schedules::default(), Texts::default());
        let mut p = point(Spot::default());
        p.draft.name = "爱心驿站".into();
        p.draft.address = "金水路 1 号".into();
        p.draft.phone = None;
        let e = Entry::of(&p, &mut schedules, &mut texts).unwrap();
        p.draft.phone = Some("0371-1".into());
        let f = Entry::of(&p, &mut schedules, &mut texts).unwrap();
        assert_eq!(e.texts(&texts), ("爱心驿站", "金水路 1 号", ""));
        assert_eq!(f.texts(&texts), ("爱心驿站", "金水路 1 号", "0371-1"));
        assert!(
            std::mem::size_of::<rstar::RTreeNode<Entry>>() > std::mem::size_of::<Entry>(),
            "see Entry: the tree node must not reuse a bulk-load slab in place"
        );
        assert!(
            std::mem::size_of::<Entry>() <= 64,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

    #[tokio::test]
    async fn texts_of_renamed_points_are_compacted_away() {
        let repo = Arc::new(FakeRepo::default());
        for m in 0..100 {
            repo.put(point(north(f64::from(m))));
        }
        let index = index_over(&repo);
        index.sync().await.unwrap();
        // Rename every point again and again: far more dead text than a page.
        for round in 0..400 {
            for mut p in repo.all() {
                p.draft.name = format!("{round:03} 号改名后的户外劳动者服务站点，名字很长很长很长");
                repo.put(p);
            }
            index.sync().await.unwrap();
        }
        {
            let texts = &index.read().texts;
            assert!(texts.pages.len() <= 2, "{} pages", texts.pages.len());
            assert!(texts.dead <= texts.live / 4 + TEXT_PAGE);
        }
        let hits = ask(&index, &query(34.75, 113.65, 1000.0));
        assert_eq!(hits.len(), 100);
        for h in hits {
            assert!(h.name.starts_with("399 号改名后"), "{}", h.name);
            assert_eq!(h.address, "郑州市金水区花园路 1 号");
            assert_eq!(h.phone.as_deref(), Some("0371-12345678"));
        }
    }

    #[test]
    fn points_come_back_as_stored_to_six_decimals() {
        let mut schedules = Schedules::default();
        let corners = [
            (0.0, 180.0),
            (0.0, -180.0),
            (-89.999999, 0.000001),
            (89.5, -179.999999),
        ];
        let random = (0..20_000u64).map(|i| {
            let lat = (splitmix(i) % 179_999_999) as f64 / 1e6 - 89.999999;
            let lng = (splitmix(i + 1_000_000) % 360_000_001) as f64 / 1e6 - 180.0;
            (lat, lng)
        });
        for (lat, lng) in corners.into_iter().chain(random) {
            let (lat, lng) = (round6(lat), round6(lng));
            let p = point(Spot {
                lat,
                lng,
                ..Spot::default()
            });
            let e = Entry::of(&p, &mut schedules, &mut Texts::default()).unwrap();
            assert_eq!(e.point(), GeoPoint { lat, lng });
        }
        // More decimals come back rounded, within 0.1 m.
        let mut p = point(Spot::default());
        p.draft.point = GeoPoint::new(34.757_123_456_7, 113.778_345_678_9).unwrap();
        let back = Entry::of(&p, &mut schedules, &mut Texts::default())
            .unwrap()
            .point();
        assert_eq!(back, GeoPoint::new(34.757_123, 113.778_346).unwrap());
        assert!(back.distance_m(p.draft.point) < 0.1);
    }

    #[test]
    fn chords_match_great_circles() {
        let a = GeoPoint::new(34.75, 113.65).unwrap();
        for (lat, lng) in [
            (34.76, 113.66),
            (39.9, 116.4),
            (-33.9, 151.2),
            (34.75, -66.35),
        ] {
            let b = GeoPoint::new(lat, lng).unwrap();
            let chord = chord2(unit_vector(a), unit_vector(b)).sqrt();
            let expected = radius_chord2(a.distance_m(b)).sqrt();
            assert!((chord - expected).abs() < 1e-12, "{lat},{lng}");
        }
        assert_eq!(radius_chord2(1e9), 4.0);
        assert_eq!(radius_chord2(0.0), 0.0);
    }

    // ---- the property: the index answers what a brute-force scan answers ----

    const HOURS: [&str; 4] = [
        "08:00-20:00",
        "24小时",
        "工作日开放",
        "周一至周五 09:00-17:00",
    ];
    const KINDS: [ServicePointKind; 3] = [
        ServicePointKind::OutdoorWorkerStation,
        ServicePointKind::DriverHome,
        ServicePointKind::NursingRoom,
    ];

    #[derive(Debug, Clone)]
    struct Attrs {
        lat: f64,
        lng: f64,
        /// Take the coordinates of an earlier point (exact ties).
        same_place_as: Option<prop::sample::Index>,
        kind: usize,
        amenities: u8,
        hours: usize,
        status: usize,
    }

    #[derive(Debug, Clone)]
    struct Spec {
        first: Attrs,
        later: Option<Attrs>,
        deleted_later: bool,
    }

    #[derive(Debug, Clone)]
    struct Question {
        lat: f64,
        lng: f64,
        at_point: Option<prop::sample::Index>,
        radius_m: f64,
        limit: usize,
        kind: Option<usize>,
        amenities: u8,
        open_now: bool,
        hour: u32,
    }

    /// Latitude and longitude: over a few degrees, or in a small cluster where metres count.
    fn coordinate() -> impl Strategy<Value = (f64, f64)> {
        prop_oneof![
            (30.0..33.0f64, 110.0..113.0f64),
            (31.0..31.002f64, 111.0..111.002f64),
        ]
    }

    fn attrs() -> impl Strategy<Value = Attrs> {
        (
            coordinate(),
            prop::option::weighted(0.1, any::<prop::sample::Index>()),
            0..KINDS.len(),
            0u8..16,
            0..HOURS.len(),
            prop_oneof![6 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)],
        )
            .prop_map(
                |((lat, lng), same_place_as, kind, amenities, hours, status)| Attrs {
                    lat,
                    lng,
                    same_place_as,
                    kind,
                    amenities,
                    hours,
                    status,
                },
            )
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            attrs(),
            prop::option::weighted(0.2, attrs()),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(first, later, deleted_later)| Spec {
                first,
                later,
                deleted_later,
            })
    }

    fn question() -> impl Strategy<Value = Question> {
        (
            coordinate(),
            prop::option::weighted(0.3, any::<prop::sample::Index>()),
            (0.0..=1.0f64).prop_map(|u| 50_000f64.powf(u)),
            1usize..=100,
            prop::option::weighted(0.3, 0..KINDS.len()),
            prop_oneof![3 => Just(0u8), 1 => 0u8..16],
            any::<bool>(),
            0u32..24,
        )
            .prop_map(
                |((lat, lng), at_point, radius_m, limit, kind, amenities, open_now, hour)| {
                    Question {
                        lat,
                        lng,
                        at_point,
                        radius_m,
                        limit,
                        kind,
                        amenities,
                        open_now,
                        hour,
                    }
                },
            )
    }

    fn amenities_of(bits: u8) -> Vec<Amenity> {
        (0..4)
            .filter(|b| bits & (1 << b) != 0)
            .map(|b| Amenity::ALL[b])
            .collect()
    }

    /// The point a spec's attributes describe; `placed` are the coordinates given so far.
    fn described(id: ServicePointId, a: &Attrs, placed: &[(f64, f64)]) -> ServicePoint {
        let (lat, lng) = match &a.same_place_as {
            Some(i) if !placed.is_empty() => placed[i.index(placed.len())],
            _ => (a.lat, a.lng),
        };
        point_with_id(
            id,
            Spot {
                lat,
                lng,
                kind: KINDS[a.kind],
                amenities: amenities_of(a.amenities),
                hours: HOURS[a.hours],
                status: ServicePointStatus::ALL[a.status],
            },
        )
    }

    /// Every answer, nearest first: what the index must agree with.
    fn brute_force(
        points: &[ServicePoint],
        q: &NearbyQuery,
        at: NaiveDateTime,
        calendar: &WorkingCalendar,
    ) -> Vec<(ServicePointId, f64, Option<bool>)> {
        let mut all: Vec<_> = points
            .iter()
            .filter(|p| p.deleted_at.is_none() && p.draft.status != ServicePointStatus::Closed)
            .filter(|p| q.kind.is_none_or(|k| k == p.draft.kind))
            .filter(|p| q.amenities.iter().all(|a| p.draft.amenities.contains(a)))
            .filter_map(|p| {
                let d = q.from.distance_m(p.draft.point);
                let open = if p.draft.status == ServicePointStatus::TemporarilyClosed {
                    Some(false)
                } else {
                    p.draft.schedule.is_open_at(at, calendar)
                };
                (d <= q.radius_m && (!q.open_now || open == Some(true))).then_some((p.id, d, open))
            })
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn nearby_agrees_with_a_brute_force_scan(
            specs in prop::collection::vec(spec(), 0..300),
            split in any::<prop::sample::Index>(),
            questions in prop::collection::vec(question(), 1..8),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let repo = Arc::new(FakeRepo::default());
            let index = index_over(&repo);
            let ids: Vec<_> = specs.iter().map(|_| ServicePointId::new()).collect();
            let mut placed = Vec::new();
            let mut first_versions = Vec::new();
            for (spec, id) in specs.iter().zip(&ids) {
                let p = described(*id, &spec.first, &placed);
                placed.push((p.draft.point.lat, p.draft.point.lng));
                first_versions.push(p);
            }
            // Some points in the first (bulk) load, the rest and every change afterwards.
            let split = split.index(specs.len() + 1);
            for p in &first_versions[..split] {
                repo.put(p.clone());
            }
            runtime.block_on(index.sync()).unwrap();
            for p in &first_versions[split..] {
                repo.put(p.clone());
            }
            for (spec, id) in specs.iter().zip(&ids) {
                if let Some(later) = &spec.later {
                    let p = described(*id, later, &placed);
                    repo.put(p);
                }
                if spec.deleted_later {
                    repo.delete(*id);
                }
            }
            runtime.block_on(index.sync()).unwrap();
            let points = repo.all();
            let live = points
                .iter()
                .filter(|p| p.deleted_at.is_none() && p.draft.status != ServicePointStatus::Closed)
                .count();
            prop_assert_eq!(index.len(), live);

            let calendar = WorkingCalendar::default();
            for question in &questions {
                let (lat, lng) = match &question.at_point {
                    Some(i) if !placed.is_empty() => placed[i.index(placed.len())],
                    _ => (question.lat, question.lng),
                };
                let q = NearbyQuery {
                    from: GeoPoint::new(lat, lng).unwrap(),
                    radius_m: question.radius_m,
                    kind: question.kind.map(|k| KINDS[k]),
                    amenities: amenities_of(question.amenities),
                    open_now: question.open_now,
                    limit: question.limit,
                };
                let at = NaiveDate::from_ymd_opt(2026, 11, 28)
                    .unwrap()
                    .and_hms_opt(question.hour, 30, 0)
                    .unwrap();
                let hits = index.nearby(&q, at, &calendar);
                let expected = brute_force(&points, &q, at, &calendar);
                prop_assert_eq!(hits.len(), expected.len().min(q.limit));
                let mut seen = std::collections::HashSet::new();
                for (i, hit) in hits.iter().enumerate() {
                    prop_assert!(seen.insert(hit.id), "{} answered twice", hit.id);
                    // Its own distance and opening, as the scan has them…
                    let own = expected.iter().find(|e| e.0 == hit.id);
                    prop_assert!(own.is_some(), "{} should not be answered", hit.id);
                    let own = own.unwrap();
                    prop_assert!(close(hit.distance_m, own.1), "{} vs {}", hit.distance_m, own.1);
                    prop_assert_eq!(hit.open_now, own.2);
                    // …in the scan's place, or in a tie's.
                    let (want_id, want_d, _) = expected[i];
                    prop_assert!(
                        hit.id == want_id || (hit.distance_m - want_d).abs() <= 1e-6,
                        "place {}: {} at {} m, expected {} at {} m",
                        i, hit.id, hit.distance_m, want_id, want_d
                    );
                    prop_assert!(close(hit.distance_m, want_d));
                }
            }
        }
    }

    // ---- memory at scale ----

    /// A million synthetic points over China, generated page by page as asked.
    struct Synthetic {
        total: i64,
    }

    fn splitmix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn unit(x: u64) -> f64 {
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    const SYNTHETIC_HOURS: [&str; 5] = [
        "08:00-20:00",
        "24小时",
        "周一至周五 09:00-17:00",
        "工作日开放",
        "07:30-22:30",
    ];

    fn synthetic(n: i64) -> ServicePoint {
        let r = |salt: u64| splitmix((n as u64).wrapping_mul(31).wrapping_add(salt));
        let org = OrgId::new();
        let now = Utc::now();
        let amenity_bits = r(5) as u32 & 0x1_ffff;
        ServicePoint {
            id: ServicePointId::parse(&format!("00000000-0000-7000-8000-{n:012x}")).unwrap(),
            org_id: org,
            org_path: OrgPath::root(org),
            draft: ServicePointDraft {
                name: format!("服务站 {n:06}"),
                kind: ServicePointKind::ALL[(r(3) % 8) as usize],
                address: format!(
                    "河南省郑州市金水区花园路{:03}号院{}号楼{}单元一层东侧服务点",
                    r(6) % 1000,
                    r(7) % 10,
                    r(8) % 10
                ),
                province: Some("河南省".into()),
                city: Some("郑州市".into()),
                district: Some("金水区".into()),
                point: GeoPoint::new(18.0 + 35.0 * unit(r(1)), 73.0 + 62.0 * unit(r(2))).unwrap(),
                schedule: Schedule::from_text(SYNTHETIC_HOURS[(r(4) % 5) as usize]),
                amenities: Amenity::ALL
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| amenity_bits & (1 << b) != 0)
                    .map(|(_, a)| *a)
                    .collect(),
                phone: Some(format!("0371-6{:07}", r(9) % 10_000_000)),
                status: if r(10) % 20 == 0 {
                    ServicePointStatus::TemporarilyClosed
                } else {
                    ServicePointStatus::Open
                },
                star_grade: None,
                quality_flag: None,
                quality_note: None,
                external_id: Some(format!("EXT-{n}")),
            },
            rating_average: None,
            rating_count: 0,
            revision: n,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[async_trait]
    impl ChangeFeed for Synthetic {
        async fn changes_since(
            &self,
            revision: i64,
            _: Option<ServicePointId>,
            limit: u32,
        ) -> Result<Vec<ServicePoint>, RepoError> {
            // One point per revision: the id never splits a revision.
            let end = (revision + i64::from(limit)).min(self.total);
            Ok((revision + 1..=end).map(synthetic).collect())
        }

        async fn revision(&self) -> Result<i64, RepoError> {
            Ok(self.total)
        }
    }

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    #[ignore = "a million points: run with --release --ignored --nocapture"]
    fn memory_at_one_million() {
        const N: i64 = 1_000_000;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let before = rss_kib();
        let index = ServicePointIndex::new(Arc::new(Synthetic { total: N }));
        let started = Instant::now();
        let changed = runtime.block_on(index.sync()).unwrap();
        let load = started.elapsed();
        assert_eq!(changed, N as usize);
        assert_eq!(index.len(), N as usize);
        let rss = rss_kib();
        println!(
            "1,000,000 points: sync (generation + conversion + bulk load) {load:?}; \
             VmRSS {:.1} MiB = {:.1} MB (before {:.1} MiB); entry {} bytes, tree node {} bytes; \
             texts {:.1} MiB in {} pages",
            rss as f64 / 1024.0,
            rss as f64 * 1024.0 / 1e6,
            before as f64 / 1024.0,
            std::mem::size_of::<Entry>(),
            std::mem::size_of::<rstar::RTreeNode<Entry>>(),
            index.read().texts.live as f64 / 1048576.0,
            index.read().texts.pages.len(),
        );

        // Queries: 10 km around random places, and the nearest 20 anywhere within 50 km.
        let calendar = WorkingCalendar::default();
        let at = monday("09:30");
        let started = Instant::now();
        let mut answered = 0;
        for i in 0..10_000u64 {
            let q = NearbyQuery {
                from: GeoPoint::new(
                    18.0 + 35.0 * unit(splitmix(i)),
                    73.0 + 62.0 * unit(splitmix(i + 7)),
                )
                .unwrap(),
                radius_m: if i % 2 == 0 { 10_000.0 } else { 50_000.0 },
                kind: None,
                amenities: Vec::new(),
                open_now: i % 4 == 1,
                limit: 20,
            };
            answered += index.nearby(&q, at, &calendar).len();
        }
        println!(
            "10,000 queries: {:?} each, {answered} hits",
            started.elapsed() / 10_000
        );

        // An incremental page on the full tree.
        let started = Instant::now();
        {
            let mut schedules = Schedules::default();
            let mut state = index.write();
            for n in 1..=i64::from(SYNC_PAGE) {
                let mut p = synthetic(n);
                p.draft.point.lat += 0.01;
                state.remove(p.id);
                if let Some(e) = Entry::of(&p, &mut schedules, &mut state.texts) {
                    state.insert(e);
                }
            }
        }
        println!(
            "5,000 updates (remove + insert) on the full index: {:?}",
            started.elapsed()
        );
        assert_eq!(index.len(), N as usize, "every update found its old entry");

        // The bulk load alone, on entries already built.
        let (mut schedules, mut texts) = (Schedules::default(), Texts::default());
        let entries: Vec<Entry> = (1..=N)
            .filter_map(|n| Entry::of(&synthetic(n), &mut schedules, &mut texts))
            .collect();
        let started = Instant::now();
        let tree = RTree::<Entry, Params>::bulk_load_with_params(entries);
        println!(
            "RTree::bulk_load of {} entries: {:?}",
            tree.size(),
            started.elapsed()
        );
        drop(tree);

        // 300 MB, decimal: the stricter reading.
        assert!(
            rss * 1024 < 300_000_000,
            "VmRSS {rss} KiB at a million points"
        );
    }
}
