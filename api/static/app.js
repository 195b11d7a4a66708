// Progressive enhancement only: every page works without JavaScript.
import { initAll } from "/static/govuk/govuk-frontend.min.js";

initAll();
