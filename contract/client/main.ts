// Runs the client against a live server: node main.js BASE_URL WX_CODE LAT LNG.
// Exits non-zero when any step is refused or answers a shape the types did not promise.
import { firstVisit } from "./app.js";

const [baseUrl, wxCode, lat, lng] = process.argv.slice(2);
if (!baseUrl || !wxCode || !lat || !lng) {
  console.error("usage: node main.js BASE_URL WX_CODE LAT LNG");
  process.exit(2);
}
firstVisit(baseUrl, wxCode, Number(lat), Number(lng)).then(
  () => console.log("client: ok"),
  (e: unknown) => {
    console.error(`client: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
