//! The web assets both `nca serve` and `nca export` hand out: the demo's page, script and style,
//! and the standalone page that runs models in the browser.

mod standalone;

pub use self::standalone::standalone_page;

/// The demo's script: opens the WebSocket, draws frames, sends the controls' requests.
pub const APP_JS: &str = include_str!("assets/app.js");
/// The look of both pages.
pub const STYLE_CSS: &str = include_str!("assets/style.css");

/// The demo page, with a placeholder for its controls.
const INDEX_HTML: &str = include_str!("assets/index.html");
/// The controls (model, goal for a goal model, play, reset, speed, rotation, fire rate), shared
/// by both pages.
const CONTROLS_HTML: &str = include_str!("assets/controls.html");
/// Where [`CONTROLS_HTML`] goes in a page.
const CONTROLS_PLACEHOLDER: &str = "__NCA_CONTROLS__";

/// The page `nca serve` hands out: the grid, the controls, and [`APP_JS`] to drive them.
pub fn demo_page() -> String {
    with_controls(INDEX_HTML)
}

/// `page` with the controls in place of their placeholder.
fn with_controls(page: &str) -> String {
    page.replacen(CONTROLS_PLACEHOLDER, CONTROLS_HTML.trim_end(), 1)
}
