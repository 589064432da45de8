//! The standalone page: models as JSON in one HTML file that runs them with WebGL2, with no
//! server (`nca export --format html`, and `nca serve`'s "Download as a page").

use nca_core::{Border, Nca, Seed};
use serde::Serialize;

use super::{STYLE_CSS, with_controls};

/// The page: WebGL2 shaders, and placeholders for the style, the controls and the models.
const STANDALONE_HTML: &str = include_str!("assets/standalone.html");
/// Where the models' JSON goes in [`STANDALONE_HTML`].
const MODELS_PLACEHOLDER: &str = "__NCA_MODELS_JSON__";
/// Where [`STYLE_CSS`] goes in [`STANDALONE_HTML`].
const STYLE_PLACEHOLDER: &str = "__NCA_STYLE__";

/// The page with `models` (named) in it, on a `grid`-cell grid.
pub fn standalone_page(models: &[(&str, &Nca)], grid: usize) -> String {
    let page_models: Vec<PageModel> = models
        .iter()
        .map(|(name, model)| PageModel::new(name, model))
        .collect();
    let json = serde_json::to_string(&PageModels {
        grid,
        models: page_models,
    })
    .expect("models serialise")
    // Inside a <script> element: no `</script>` may appear.
    .replace('<', "\\u003c");
    with_controls(STANDALONE_HTML)
        .replacen(STYLE_PLACEHOLDER, STYLE_CSS.trim_end(), 1)
        .replacen(MODELS_PLACEHOLDER, &json, 1)
}

/// What the page reads: the grid and every model's settings and weights.
#[derive(Serialize)]
struct PageModels {
    grid: usize,
    models: Vec<PageModel>,
}

/// One model for the page (the layout of `standalone.html`'s loader).
#[derive(Serialize)]
struct PageModel {
    name: String,
    channels: usize,
    visible: usize,
    hidden: usize,
    fire_rate: f64,
    living_threshold: f64,
    update_scale: f64,
    angle_deg: f64,
    learned_perception: bool,
    /// A fourth perception band, the Laplacian (textures): `bands` is 3 or 4.
    laplacian: bool,
    /// `"zero"` or `"wrap"` (the grid is a torus).
    border: Border,
    /// `"cell"` (a live seed cell in the centre) or `"zeros"`.
    seed: Seed,
    /// Zero cells not alive before and after a step (the growing NCA); off, no mask pass.
    alive_masking: bool,
    /// `[bands·C, 1, 3, 3]`, channel by channel (`c · bands + band`).
    filters: Vec<f32>,
    /// `[bands·C][hidden]`, rows in the filters' order.
    w1: Vec<f32>,
    b1: Vec<f32>,
    /// `[hidden][C]`.
    w2: Vec<f32>,
    b2: Vec<f32>,
    /// A goal model's goals ([`NcaConfig::goals`](nca_core::NcaConfig::goals)); empty for
    /// others.
    goals: Vec<String>,
    /// One full hidden bias per goal, `b1 + embedding[g] · weight` (`[goals][hidden]`): the
    /// page grows goal `g` with `goal_biases[g]` in place of `b1`. Empty without goals.
    goal_biases: Vec<Vec<f32>>,
}

impl PageModel {
    fn new(name: &str, model: &Nca) -> Self {
        let config = model.config();
        let weights = model.update.host_weights();
        Self {
            name: name.into(),
            channels: config.channels,
            visible: config.visible_channels,
            hidden: config.hidden_units,
            fire_rate: config.fire_rate,
            living_threshold: config.living_threshold,
            update_scale: config.update_scale,
            angle_deg: config.perception_angle_deg,
            learned_perception: config.trainable_perception,
            laplacian: config.laplacian,
            border: config.border,
            seed: config.seed,
            alive_masking: config.alive_masking,
            filters: model.perception.filters(config.channels),
            goal_biases: goal_biases(model, &weights.hidden_bias),
            goals: config.goals.clone(),
            w1: weights.hidden_weight,
            b1: weights.hidden_bias,
            w2: weights.output_weight,
            b2: weights.output_bias,
        }
    }
}

/// Each goal's hidden bias, `b1 + embedding[g] · weight` (what [`GoalEmbedding::forward`]
/// adds to every cell of a sample growing goal `g`); empty for a model without goals.
///
/// [`GoalEmbedding::forward`]: nca_core::GoalEmbedding::forward
fn goal_biases(model: &Nca, b1: &[f32]) -> Vec<Vec<f32>> {
    let Some(goal) = &model.goal else {
        return Vec::new();
    };
    let every_goal: Vec<usize> = (0..goal.goals()).collect();
    let terms = nca_core::host_values(goal.forward(&every_goal));
    terms
        .chunks_exact(b1.len())
        .map(|term| {
            b1.iter()
                .zip(term)
                .map(|(bias, term)| bias + term)
                .collect()
        })
        .collect()
}
