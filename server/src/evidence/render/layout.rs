//! Page layout: a display list per page, a flow that breaks pages, and
//! bordered tables whose header row repeats on every page.
//!
//! Coordinates are points (1/72 in), origin at the top left, y downwards.

use super::Strokes;
use super::image::Picture;
use super::text::{FontSet, Line, Weight};

/// A4 portrait, in points.
pub(crate) const A4: (f32, f32) = (595.28, 841.89);
/// A4 landscape.
pub(crate) const A4_LANDSCAPE: (f32, f32) = (A4.1, A4.0);

/// Height of capital letters, in em (Noto Sans): to centre text vertically.
const CAP_HEIGHT: f32 = 0.714;
/// Line spacing, in em.
pub(crate) const LEADING: f32 = 1.3;

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rgb(pub(crate) u8, pub(crate) u8, pub(crate) u8);

pub(crate) const INK: Rgb = Rgb(0x1b, 0x1f, 0x24);
pub(crate) const MUTED: Rgb = Rgb(0x5a, 0x63, 0x6e);
pub(crate) const ACCENT: Rgb = Rgb(0x1f, 0x3a, 0x5f);
pub(crate) const RULE: Rgb = Rgb(0x8c, 0x96, 0xa3);
pub(crate) const HEAD_FILL: Rgb = Rgb(0xe6, 0xec, 0xf3);
pub(crate) const TOTAL_FILL: Rgb = Rgb(0xf3, 0xf5, 0xf8);
pub(crate) const BOX_FILL: Rgb = Rgb(0xf4, 0xf7, 0xfb);
pub(crate) const SIGNATURE_INK: Rgb = Rgb(0x14, 0x2d, 0x6e);

/// One drawing operation.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A shaped line; `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        line: Line,
        color: Rgb,
    },
    /// A rectangle, filled and/or stroked.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    },
    /// Open polylines with round caps and joins (drawn signatures, rules).
    Lines {
        paths: Vec<Vec<(f32, f32)>>,
        color: Rgb,
        width: f32,
    },
    /// A picture fitted, undistorted and centred, into the box.
    Picture {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        picture: Picture,
    },
}

/// Horizontal alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// The pages being laid out and the position on the current one.
pub(crate) struct Flow<'f> {
    pub(crate) fonts: &'f FontSet,
    pub(crate) pages: Vec<Vec<Op>>,
    pub(crate) left: f32,
    pub(crate) right: f32,
    /// Where content starts on a page (below the running header).
    top: f32,
    /// Where content must end (above the footer).
    pub(crate) bottom: f32,
    /// Current position.
    pub(crate) y: f32,
    /// Some text had characters no font covers.
    pub(crate) missing: bool,
}

impl<'f> Flow<'f> {
    pub(crate) fn new(
        fonts: &'f FontSet,
        size: (f32, f32),
        margin: f32,
        top: f32,
        bottom: f32,
    ) -> Flow<'f> {
        Flow {
            fonts,
            pages: vec![Vec::new()],
            left: margin,
            right: size.0 - margin,
            top,
            bottom,
            y: top,
            missing: false,
        }
    }

    pub(crate) fn width(&self) -> f32 {
        self.right - self.left
    }

    pub(crate) fn push(&mut self, op: Op) {
        if let Op::Text { line, .. } = &op {
            self.missing |= line.missing;
        }
        self.pages.last_mut().expect("a page").push(op);
    }

    pub(crate) fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.top;
    }

    /// Starts a new page unless `height` fits below the current position.
    /// True when it did.
    pub(crate) fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > self.bottom && self.y > self.top {
            self.new_page();
            true
        } else {
            false
        }
    }

    pub(crate) fn space(&mut self, h: f32) {
        self.y += h;
    }

    /// Draws `line` with its top at `top`.
    pub(crate) fn text_at(&mut self, x: f32, top: f32, line: Line, color: Rgb) {
        let y = top + baseline_offset(line.size);
        self.push(Op::Text { x, y, line, color });
    }

    /// A line, aligned within [left, right], its top at `top`.
    pub(crate) fn text_in(
        &mut self,
        left: f32,
        right: f32,
        top: f32,
        line: Line,
        color: Rgb,
        align: Align,
    ) {
        let x = match align {
            Align::Left => left,
            Align::Right => right - line.width,
            Align::Center => (left + right - line.width) / 2.0,
        };
        self.text_at(x, top, line, color);
    }

    /// A wrapped paragraph across the full width, breaking pages between
    /// lines.
    pub(crate) fn paragraph(&mut self, text: &str, weight: Weight, size: f32, color: Rgb) {
        let lines = self.fonts.wrapped(text, weight, size, self.width());
        self.lines_flow(lines, self.left, color);
    }

    /// Lines at `x`, breaking pages between them.
    pub(crate) fn lines_flow(&mut self, lines: Vec<Line>, x: f32, color: Rgb) {
        for line in lines {
            let h = line.size * LEADING;
            self.ensure(h);
            let top = self.y;
            self.text_at(x, top, line, color);
            self.y += h;
        }
    }

    /// A horizontal rule at the current position.
    pub(crate) fn rule(&mut self, color: Rgb, width: f32) {
        let y = self.y;
        self.push(Op::Lines {
            paths: vec![vec![(self.left, y), (self.right, y)]],
            color,
            width,
        });
    }
}

/// From the top of a line box of font size `size` to its baseline.
pub(crate) fn baseline_offset(size: f32) -> f32 {
    // Centre the capitals in the line box.
    (size * LEADING + size * CAP_HEIGHT) / 2.0
}

/// A table column.
pub(crate) struct Column {
    pub(crate) title: String,
    pub(crate) width: f32,
    pub(crate) align: Align,
}

/// A styled line of a cell.
pub(crate) struct CellLine {
    pub(crate) line: Line,
    pub(crate) color: Rgb,
}

/// The content of one cell.
pub(crate) enum Cell {
    Lines(Vec<CellLine>),
    /// A drawn signature (strokes of `[x, y, t]`, x and y in 0..=1000).
    Signature(Strokes),
}

/// A table row.
pub(crate) struct Row {
    pub(crate) cells: Vec<Cell>,
    pub(crate) fill: Option<Rgb>,
}

/// Table metrics.
pub(crate) struct TableStyle {
    pub(crate) header_size: f32,
    pub(crate) pad_x: f32,
    pub(crate) pad_y: f32,
    /// Rows are at least this tall.
    pub(crate) min_row: f32,
    pub(crate) border: f32,
}

/// Width of a signature box for each unit of its height.
pub(crate) const SIGNATURE_ASPECT: f32 = 3.0;

impl Flow<'_> {
    /// A table with a header row, repeated after each page break; rows are
    /// never split. `before_header` runs when a page break happens inside
    /// the table, before the header is drawn again (a "continued" title).
    pub(crate) fn table(
        &mut self,
        columns: &[Column],
        rows: Vec<Row>,
        style: &TableStyle,
        before_header: &mut dyn FnMut(&mut Flow<'_>),
    ) {
        let header: Vec<Vec<Line>> = columns
            .iter()
            .map(|c| {
                self.fonts.wrapped(
                    &c.title,
                    Weight::Bold,
                    style.header_size,
                    c.width - 2.0 * style.pad_x,
                )
            })
            .collect();
        let header_height = header
            .iter()
            .map(|lines| lines.len() as f32 * style.header_size * LEADING)
            .fold(0.0, f32::max)
            + 2.0 * style.pad_y;
        let first_row = rows.first().map(|r| row_height(r, style)).unwrap_or(0.0);
        if self.ensure(header_height + first_row) {
            before_header(self);
        }
        self.header_row(columns, &header, header_height, style);
        for row in rows {
            let h = row_height(&row, style);
            if self.ensure(h) {
                before_header(self);
                self.header_row(columns, &header, header_height, style);
            }
            self.row(columns, row, h, style);
        }
    }

    fn header_row(
        &mut self,
        columns: &[Column],
        header: &[Vec<Line>],
        height: f32,
        style: &TableStyle,
    ) {
        let mut x = self.left;
        let top = self.y;
        for (column, lines) in columns.iter().zip(header) {
            self.push(Op::Rect {
                x,
                y: top,
                w: column.width,
                h: height,
                fill: Some(HEAD_FILL),
                stroke: Some((RULE, style.border)),
            });
            // Header text sits at the bottom of its cell, like the values
            // under it.
            let block = lines.len() as f32 * style.header_size * LEADING;
            let mut line_top = top + height - style.pad_y - block;
            for line in lines {
                self.text_in(
                    x + style.pad_x,
                    x + column.width - style.pad_x,
                    line_top,
                    line.clone(),
                    ACCENT,
                    column.align,
                );
                line_top += style.header_size * LEADING;
            }
            x += column.width;
        }
        self.y += height;
    }

    fn row(&mut self, columns: &[Column], row: Row, height: f32, style: &TableStyle) {
        let mut x = self.left;
        let top = self.y;
        for (column, cell) in columns.iter().zip(row.cells) {
            self.push(Op::Rect {
                x,
                y: top,
                w: column.width,
                h: height,
                fill: row.fill,
                stroke: Some((RULE, style.border)),
            });
            let (l, r) = (x + style.pad_x, x + column.width - style.pad_x);
            match cell {
                Cell::Lines(lines) => {
                    let block: f32 = lines.iter().map(|c| c.line.size * LEADING).sum();
                    // Centred vertically.
                    let mut line_top = top + (height - block) / 2.0;
                    for cl in lines {
                        let h = cl.line.size * LEADING;
                        self.text_in(l, r, line_top, cl.line, cl.color, column.align);
                        line_top += h;
                    }
                }
                Cell::Signature(strokes) => {
                    let h = height - 2.0 * style.pad_y;
                    let w = (r - l).min(h * SIGNATURE_ASPECT);
                    let bx = l + (r - l - w) / 2.0;
                    self.signature(bx, top + style.pad_y, w, h, &strokes);
                }
            }
            x += column.width;
        }
        self.y += height;
    }

    /// Draws signature strokes fitted into the box (x, y, w, h). The client
    /// divides x and y by the pad's longer side, so one scale for both axes
    /// keeps the drawing's shape.
    pub(crate) fn signature(&mut self, x: f32, y: f32, w: f32, h: f32, strokes: &Strokes) {
        let pad = |p: &[i64; 3]| {
            (
                p[0].clamp(0, 1000) as f32 / 1000.0,
                p[1].clamp(0, 1000) as f32 / 1000.0,
            )
        };
        let points: Vec<(f32, f32)> = strokes.iter().flatten().map(pad).collect();
        if points.is_empty() {
            return;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for (px, py) in &points {
            x0 = x0.min(*px);
            y0 = y0.min(*py);
            x1 = x1.max(*px);
            y1 = y1.max(*py);
        }
        // Fit the drawing's bounding box, centred, without distortion.
        let (bw, bh) = ((x1 - x0).max(0.01), (y1 - y0).max(0.01));
        let scale = (w / bw).min(h / bh);
        let (ox, oy) = (
            x + (w - bw * scale) / 2.0 - x0 * scale,
            y + (h - bh * scale) / 2.0 - y0 * scale,
        );
        let paths: Vec<Vec<(f32, f32)>> = strokes
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| {
                let mut path: Vec<(f32, f32)> = s
                    .iter()
                    .map(pad)
                    .map(|(px, py)| (ox + px * scale, oy + py * scale))
                    .collect();
                if path.len() == 1 {
                    // A dot.
                    let (px, py) = path[0];
                    path.push((px + 0.01, py));
                }
                path
            })
            .collect();
        self.push(Op::Lines {
            paths,
            color: SIGNATURE_INK,
            width: 0.7,
        });
    }
}

fn row_height(row: &Row, style: &TableStyle) -> f32 {
    let content = row
        .cells
        .iter()
        .map(|c| match c {
            Cell::Lines(lines) => lines.iter().map(|l| l.line.size * LEADING).sum(),
            Cell::Signature(_) => 0.0,
        })
        .fold(0.0, f32::max);
    (content + 2.0 * style.pad_y).max(style.min_row)
}
