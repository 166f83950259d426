//! Writes laid-out pages as a PDF with krilla: fonts embedded as subsets,
//! PDF/A-2u (archivable, text extractable) whenever every character has a
//! glyph, plain PDF 1.7 otherwise (PDF/A forbids `.notdef`).

use chrono::{Datelike, Timelike};
use krilla::color::rgb;
use krilla::configure::{Configuration, Validator};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, LineJoin, Stroke};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

use super::RenderError;
use super::layout::{Op, Rgb};
use super::text::FontSet;

/// Document information.
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) language: &'static str,
    /// Page size, points.
    pub(crate) size: (f32, f32),
    /// UTC milliseconds: the only input that is not content.
    pub(crate) created_at: i64,
    /// Write PDF/A-2u (only when no character is missing).
    pub(crate) archival: bool,
    /// Compress content streams (tests turn it off to read them).
    pub(crate) compress: bool,
}

pub(crate) fn write(
    fonts: &FontSet,
    pages: &[Vec<Op>],
    meta: &Meta,
) -> Result<Vec<u8>, RenderError> {
    let settings = SerializeSettings {
        compress_content_streams: meta.compress,
        configuration: if meta.archival {
            Configuration::new_with_validator(Validator::A2_U)
        } else {
            Configuration::new()
        },
        // Nothing here is tagged: no structure tree.
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    let created = chrono::DateTime::from_timestamp_millis(meta.created_at).unwrap_or_default();
    document.set_metadata(
        Metadata::new()
            .title(meta.title.clone())
            .language(meta.language.to_owned())
            .creator("cadre".to_owned())
            .producer("cadre".to_owned())
            .creation_date(
                DateTime::new(created.year().clamp(0, 9999) as u16)
                    .month(created.month() as u8)
                    .day(created.day() as u8)
                    .hour(created.hour() as u8)
                    .minute(created.minute() as u8)
                    .second(created.second() as u8)
                    .utc_offset_hour(0)
                    .utc_offset_minute(0),
            ),
    );
    let size = PageSettings::from_wh(meta.size.0, meta.size.1)
        .ok_or_else(|| RenderError::Pdf("invalid page size".into()))?;
    for ops in pages {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(fonts, &mut surface, op);
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| RenderError::Pdf(format!("{e:?}")))
}

fn color(c: Rgb) -> krilla::paint::Paint {
    rgb::Color::new(c.0, c.1, c.2).into()
}

fn fill(c: Rgb) -> Fill {
    Fill {
        paint: color(c),
        ..Fill::default()
    }
}

fn draw(fonts: &FontSet, surface: &mut Surface<'_>, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            line,
            color: c,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(fill(*c)));
            let mut x = *x;
            for run in &line.runs {
                let font = fonts.faces[run.face].pdf.clone();
                surface.draw_glyphs(
                    Point::from_xy(x, *y),
                    &run.glyphs,
                    font,
                    &run.text,
                    line.size,
                    false,
                );
                x += run.advance * line.size;
            }
        }
        Op::Rect {
            x,
            y,
            w,
            h,
            fill: f,
            stroke,
        } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let mut pb = PathBuilder::new();
            pb.push_rect(rect);
            let Some(path) = pb.finish() else { return };
            surface.set_fill(f.map(fill));
            surface.set_stroke(stroke.map(|(c, width)| Stroke {
                paint: color(c),
                width,
                ..Stroke::default()
            }));
            if f.is_some() || stroke.is_some() {
                surface.draw_path(&path);
            }
        }
        Op::Lines {
            paths,
            color: c,
            width,
        } => {
            let mut pb = PathBuilder::new();
            for path in paths {
                let mut points = path.iter();
                let Some(&(x0, y0)) = points.next() else {
                    continue;
                };
                pb.move_to(x0, y0);
                for &(x, y) in points {
                    pb.line_to(x, y);
                }
            }
            let Some(path) = pb.finish() else { return };
            surface.set_fill(None);
            surface.set_stroke(Some(Stroke {
                paint: color(*c),
                width: *width,
                line_cap: LineCap::Round,
                line_join: LineJoin::Round,
                ..Stroke::default()
            }));
            surface.draw_path(&path);
        }
        Op::Picture {
            x,
            y,
            w,
            h,
            picture,
        } => picture.draw(surface, (*x, *y, *w, *h)),
    }
}
