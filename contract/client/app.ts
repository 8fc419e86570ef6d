// A small worker client written against types generated from openapi.yaml
// (openapi-typescript → generated/schema.d.ts) and compiled with `tsc --strict` by
// scripts/contract-clients. It is what a mini-program developer writes on day one:
// log in with the wx.login() code, read /me, look up nearby service points and
// apply to join the union. It must compile without a cast or a hand-written type.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type AccountView = components["schemas"]["AccountView"];
type ApplicationForm = components["schemas"]["ApplicationForm"];

/** The shown name of an account: the discriminator `kind` narrows the union. */
export function shownName(account: AccountView): string {
  switch (account.kind) {
    case "worker":
      return account.phone ?? account.id;
    case "admin":
      return account.display_name;
  }
}

export async function firstVisit(baseUrl: string, wxCode: string, lat: number, lng: number) {
  const api = createClient<paths>({ baseUrl });

  const login = await api.POST("/api/v1/auth/wechat/login", { body: { code: wxCode } });
  if (login.error) {
    throw new Error(`${login.error.code}: ${login.error.detail ?? login.error.title}`);
  }
  const { access_token, account } = login.data;
  const headers = { Authorization: `Bearer ${access_token}` };
  console.log(`logged in as ${shownName(account)}`);

  const me = await api.GET("/api/v1/me", { headers });
  if (me.data) {
    console.log(`me: ${shownName(me.data)}`);
  }

  const nearby = await api.GET("/api/v1/service-points/nearby", {
    params: { query: { lat, lng, radius_m: 3000, limit: 5 } },
  });
  for (const point of nearby.data?.items ?? []) {
    const open = point.open_now === null || point.open_now === undefined ? "hours unknown" : point.open_now ? "open" : "closed";
    console.log(`${point.distance_m} m  ${point.name} (${point.kind_label}, ${open})`);
  }

  const notice = await api.GET("/api/v1/membership/privacy-notice");
  if (!notice.data) {
    throw new Error("no privacy notice");
  }
  const orgs = await api.GET("/api/v1/orgs", { headers, params: { query: { accepts_individuals: true, limit: 1 } } });
  const org = orgs.data?.items[0];
  if (!org) {
    throw new Error("no organisation to apply to");
  }
  const form: ApplicationForm = {
    real_name: "张三",
    id_number: "11010519491231002X",
    employer_name: "顺丰速运",
    industry: "快递物流",
    employment_form: "courier",
    city: "郑州市",
    phone: "13800138000",
    org_id: org.id,
    consent: { version: notice.data.version, accepted: true },
  };
  const applied = await api.POST("/api/v1/membership/applications", { headers, body: form });
  if (applied.error) {
    const fields = (applied.error.errors ?? []).map((e) => `${e.field ?? ""}: ${e.detail}`);
    throw new Error(`apply: ${applied.error.code} ${fields.join("; ")}`);
  }
  console.log(`application ${applied.data.id}: ${applied.data.status_label}`);
  return applied.data;
}
