//! The timeline picture, as hand-written SVG: per subscriber, its link
//! capacity (the truth, which the SFU never reads), rtmedia's estimate from
//! the subscriber's feedback and the bitrate the SFU allocated (step plots,
//! since allocation changes in steps), the spatial layer each video
//! is forwarded at, and the jitter buffers' target delay.

use std::fmt::Write;

use crate::meeting::Sample;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const PANEL_H: f64 = 90.0;
const GAP: f64 = 28.0;
const TRACK_COLORS: [&str; 6] = [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
];

struct Series {
    label: String,
    color: &'static str,
    /// (seconds, value); `None` values break the line (paused).
    points: Vec<(f64, Option<f64>)>,
}

/// A step-plot panel with its axes, y labels and legend.
fn panel(
    out: &mut String,
    y0: f64,
    title: &str,
    unit: &str,
    y_max: f64,
    t_max: f64,
    series: &[Series],
) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / t_max.max(1e-9) * plot_w;
    let y = |v: f64| y0 + PANEL_H - (v / y_max.max(1e-9)).clamp(0.0, 1.0) * PANEL_H;
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" font-size="12" font-weight="bold">{title}</text>"##,
        y0 - 6.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{y0:.1}" width="{plot_w:.1}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
    );
    for frac in [0.0, 0.5, 1.0] {
        let v = y_max * frac;
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{} {unit}</text>"##,
            LEFT - 4.0,
            y(v) + 3.0,
            fmt_value(v)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let mut d = String::new();
        let mut pen_down = false;
        let mut last_y = 0.0;
        for &(t, v) in &s.points {
            match v {
                Some(v) => {
                    if pen_down {
                        let _ = write!(d, " L{:.1},{last_y:.1} L{:.1},{:.1}", x(t), x(t), y(v));
                    } else {
                        let _ = write!(d, " M{:.1},{:.1}", x(t), y(v));
                    }
                    pen_down = true;
                    last_y = y(v);
                }
                None => pen_down = false,
            }
        }
        let _ = writeln!(
            out,
            r##"<path d="{d}" fill="none" stroke="{}" stroke-width="1.5"/>"##,
            s.color
        );
        let ly = y0 + 10.0 + 13.0 * k as f64;
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"##,
            WIDTH - RIGHT + 8.0,
            WIDTH - RIGHT + 24.0,
            s.color,
            WIDTH - RIGHT + 28.0,
            ly + 3.0,
            s.label
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{t_max:.0} s</text>"##,
        LEFT + plot_w,
        y0 + PANEL_H + 11.0
    );
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The whole picture: three panels per subscriber.
pub fn render(timeline: &[Sample], names: &[&str], seconds: f64) -> String {
    let per_sub = 3.0 * (PANEL_H + GAP) + 20.0;
    let height = 40.0 + per_sub * names.len() as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" font-family="sans-serif">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">rtmedia conference: what each subscriber got</text>"##
    );
    let t = |s: &Sample| s.t_us as f64 / 1e6;
    for (i, name) in names.iter().enumerate() {
        let y0 = 50.0 + per_sub * i as f64;
        let kbps = |f: &dyn Fn(&Sample) -> u64| -> Vec<(f64, Option<f64>)> {
            timeline
                .iter()
                .map(|s| (t(s), Some(f(s) as f64 / 1000.0)))
                .collect()
        };
        let rates = [
            Series {
                label: "link capacity".into(),
                color: "#bbbbbb",
                points: kbps(&|s| s.subs[i].capacity_bps.min(10_000_000)),
            },
            Series {
                label: "rtmedia estimate".into(),
                color: "#1f78b4",
                points: kbps(&|s| s.subs[i].estimate_bps),
            },
            Series {
                label: "allocated".into(),
                color: "#e31a1c",
                points: kbps(&|s| s.subs[i].allocated_bps),
            },
        ];
        let y_max = rates
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .fold(100.0, f64::max)
            * 1.1;
        panel(
            &mut out,
            y0,
            &format!("{name}: bitrate"),
            "kb/s",
            y_max,
            seconds,
            &rates,
        );
        let tracks = timeline.first().map_or(0, |s| s.subs[i].layers.len());
        let layers: Vec<Series> = (0..tracks)
            .map(|j| Series {
                label: format!("video {j}"),
                color: TRACK_COLORS[j % TRACK_COLORS.len()],
                // Offset a little per track so equal layers do not hide each other.
                points: timeline
                    .iter()
                    .map(|s| {
                        (
                            t(s),
                            s.subs[i].layers[j].map(|l| f64::from(l) + 0.06 * j as f64),
                        )
                    })
                    .collect(),
            })
            .collect();
        panel(
            &mut out,
            y0 + PANEL_H + GAP,
            &format!("{name}: forwarded spatial layer (gap: paused)"),
            "",
            2.4,
            seconds,
            &layers,
        );
        let delay = [Series {
            label: "target delay".into(),
            color: "#33a02c",
            points: timeline
                .iter()
                .map(|s| (t(s), Some(s.subs[i].jb_target_ms)))
                .collect(),
        }];
        let d_max = delay[0]
            .points
            .iter()
            .filter_map(|p| p.1)
            .fold(50.0, f64::max)
            * 1.1;
        panel(
            &mut out,
            y0 + 2.0 * (PANEL_H + GAP),
            &format!("{name}: video jitter-buffer delay"),
            "ms",
            d_max,
            seconds,
            &delay,
        );
    }
    out.push_str("</svg>\n");
    out
}
