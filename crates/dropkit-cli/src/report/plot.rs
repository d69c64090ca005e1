//! Line charts as SVG and PNG (plotters), with an embedded font so they render the same
//! everywhere. Files are drawn to a temporary name and renamed into place.

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// DejaVu Sans (see assets/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Tableau 10: colours that stay distinguishable, also for common colour-vision deficiencies.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One labelled line, optionally with a (low, high) error bar at each point.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub spread: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, spread: Vec::new() }
    }
}

/// A chart's text and x axis.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_axis: XAxis,
}

/// How the x axis is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Linear,
    /// Whole numbers only (epochs): no tick labels such as 1.2 and 1.4.
    Integer,
    /// Logarithmic, base 2 (minibatch sizes 16, 64, 256, 1024 spread evenly).
    Log2,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws `series` to `stem.svg` and `stem.png`; returns the two paths.
pub fn line_chart(stem: &Path, chart: &Chart, series: &[Series]) -> Result<Vec<PathBuf>> {
    register_font();
    // A log axis plots log2(x) and labels each tick with 2^tick.
    let logged: Vec<Series>;
    let series = if chart.x_axis == XAxis::Log2 {
        logged = series
            .iter()
            .map(|s| Series {
                label: s.label.clone(),
                points: s.points.iter().map(|&(x, y)| (x.max(f64::MIN_POSITIVE).log2(), y)).collect(),
                spread: s.spread.clone(),
            })
            .collect();
        &logged[..]
    } else {
        series
    };
    let size = (900, 560);
    let svg_path = stem.with_extension("svg");
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, size).into_drawing_area(), chart, series)?;
    dropkit::fsio::write_atomic(&svg_path, svg.as_bytes())?;

    let png_path = stem.with_extension("png");
    // A name of this process's own: concurrent reports into one directory must not share it.
    let name = png_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = png_path.with_file_name(dropkit::fsio::temp_name(&name, ".png"));
    let drawn = draw(BitMapBackend::new(&tmp, size).into_drawing_area(), chart, series);
    let renamed = drawn
        .and_then(|()| std::fs::rename(&tmp, &png_path).with_context(|| format!("writing {}", png_path.display())));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed?;
    Ok(vec![svg_path, png_path])
}

fn bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let bars =
        series.iter().flat_map(|s| s.points.iter().zip(&s.spread).flat_map(|(&(x, _), &(lo, hi))| [(x, lo), (x, hi)]));
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(bars)
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    // Room at the sides for the caps of the first and last error bars, and at the top for the
    // legend (a line per series), so that it covers no data.
    let xpad = if x1 > x0 { (x1 - x0) * 0.04 } else { 0.5 };
    let legend = (y1 - y0 + 2.0 * pad) * 0.07 * series.len() as f64;
    ((x0 - xpad, x1 + xpad), (y0 - pad, y1 + pad + legend))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart, series: &[Series]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", chart.title);
    root.fill(&WHITE).map_err(err)?;
    let ((x0, x1), (y0, y1)) = bounds(series);
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let integer = |x: &f64| if (x - x.round()).abs() < 1e-6 { format!("{}", x.round()) } else { String::new() };
    let power =
        |x: &f64| if (x - x.round()).abs() < 1e-6 { format!("{}", 2f64.powf(x.round())) } else { String::new() };
    let plain = |x: &f64| format!("{x}");
    let format_x: &dyn Fn(&f64) -> String = match chart.x_axis {
        XAxis::Linear => &plain,
        XAxis::Integer => &integer,
        XAxis::Log2 => &power,
    };
    let mut mesh = ctx.configure_mesh();
    if chart.x_axis != XAxis::Linear {
        mesh.x_label_formatter(format_x);
    }
    mesh.x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = ShapeStyle::from(&colour).stroke_width(2);
        ctx.draw_series(LineSeries::new(s.points.iter().copied(), style)).map_err(err)?.label(s.label.as_str()).legend(
            move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], ShapeStyle::from(&colour).stroke_width(3)),
        );
        ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(err)?;
        let bars = s.points.iter().zip(&s.spread);
        ctx.draw_series(bars.map(|(&(x, y), &(lo, hi))| ErrorBar::new_vertical(x, lo, y, hi, style, 8)))
            .map_err(err)?;
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_charts_into_one_directory_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("val_accuracy");
        let series = [Series::new("a", vec![(1.0, 0.5), (2.0, 0.7)])];
        let chart = Chart { title: "t", x_label: "epoch", y_label: "y", x_axis: XAxis::Integer };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        line_chart(&stem, &chart, &series).unwrap();
                    }
                });
            }
        });
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "only the SVG and the PNG remain: {left:?}");
    }

    #[test]
    fn epoch_axes_label_whole_numbers_and_batch_axes_are_logarithmic() {
        let dir = tempfile::tempdir().unwrap();
        let svg = |axis: XAxis, points: Vec<(f64, f64)>| {
            let stem = dir.path().join("c");
            let chart = Chart { title: "t", x_label: "x", y_label: "y", x_axis: axis };
            line_chart(&stem, &chart, &[Series::new("a", points)]).unwrap();
            std::fs::read_to_string(stem.with_extension("svg")).unwrap()
        };
        // The texts of an SVG: each `<text ...>` element's content, trimmed.
        let texts = |svg: &str| -> Vec<String> {
            let content = |t: &str| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string());
            svg.split("<text").skip(1).filter_map(content).collect()
        };
        let epochs = texts(&svg(XAxis::Integer, vec![(1.0, 0.5), (2.0, 0.6), (3.0, 0.7)]));
        assert!(epochs.contains(&"2".to_string()), "{epochs:?}");
        assert!(!epochs.iter().any(|t| t == "1.5" || t == "1.2" || t == "2.5"), "integer epoch ticks only: {epochs:?}");
        let batches = texts(&svg(XAxis::Log2, vec![(16.0, 0.5), (256.0, 0.6), (1024.0, 0.7)]));
        assert!(batches.contains(&"64".to_string()) && batches.contains(&"256".to_string()), "{batches:?}");
    }
}
