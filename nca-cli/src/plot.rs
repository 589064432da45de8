//! The loss curve as an SVG line plot with a logarithmic y axis (no fonts or libraries needed:
//! the browser draws the text).

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

/// An SVG document plotting `losses[i]` against iteration `i` on a log scale.
pub fn loss_svg(losses: &[f64]) -> String {
    let positive: Vec<f64> = losses
        .iter()
        .copied()
        .filter(|l| *l > 0.0 && l.is_finite())
        .collect();
    let (low, high) = positive
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| {
            (lo.min(l), hi.max(l))
        });
    let (low_decade, high_decade) = if positive.is_empty() {
        (-3, 0)
    } else {
        (
            low.log10().floor() as i32,
            (high.log10().ceil() as i32).max(low.log10().floor() as i32 + 1),
        )
    };
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let last = losses.len().saturating_sub(1).max(1) as f64;
    let x = |i: f64| LEFT + plot_w * i / last;
    let y = |loss: f64| {
        TOP + plot_h * (f64::from(high_decade) - loss.log10()) / f64::from(high_decade - low_decade)
    };

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="18" text-anchor="middle" font-size="14">training loss (RGBA MSE, log scale)</text>
"##,
        WIDTH / 2.0
    );
    for decade in low_decade..=high_decade {
        let gy = y(10f64.powi(decade));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">1e{decade}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            gy + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">iteration (0 – {})</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        losses.len().saturating_sub(1)
    );
    let points: Vec<String> = losses
        .iter()
        .enumerate()
        .filter(|(_, l)| **l > 0.0 && l.is_finite())
        .map(|(i, &l)| format!("{:.1},{:.1}", x(i as f64), y(l)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="1.2" points="{}"/>"##,
        points.join(" ")
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/></svg>"##
    );
    svg
}
