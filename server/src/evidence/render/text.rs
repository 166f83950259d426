//! Text: font fallback, bidirectional ordering, shaping, measuring,
//! truncation and line wrapping.
//!
//! A string is cut into bidi runs (Unicode Bidirectional Algorithm, in
//! visual order), each run into pieces of one font (the first font of the
//! chain that has the character; punctuation, spaces and combining marks
//! stay with the font of what precedes them when it has them), and each piece
//! is shaped by rustybuzz in its direction. The result is drawn glyph by
//! glyph, each glyph carrying the range of text it stands for, so the PDF's
//! text stays searchable and copyable.

use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::{Direction, Face, UnicodeBuffer};
use unicode_bidi::ParagraphBidiInfo;

use super::RenderError;

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// One loaded font: the PDF side (embedding, subsetting) and the shaper's.
pub(crate) struct FontFace {
    pub(crate) pdf: Font,
    shaper: Face<'static>,
}

impl FontFace {
    pub(crate) fn load(data: &'static [u8], index: u32) -> Result<FontFace, RenderError> {
        let shaper = Face::from_slice(data, index)
            .ok_or_else(|| RenderError::Font("cannot parse font".into()))?;
        let pdf = Font::new(data.into(), index)
            .ok_or_else(|| RenderError::Font("cannot load font".into()))?;
        Ok(FontFace { pdf, shaper })
    }

    fn covers(&self, c: char) -> bool {
        self.shaper.glyph_index(c).is_some()
    }
}

/// The fonts and their fallback chains.
pub(crate) struct FontSet {
    pub(crate) faces: Vec<FontFace>,
    regular: Vec<usize>,
    bold: Vec<usize>,
}

impl FontSet {
    /// `faces[0]` is the primary regular font and `faces[bold[0]]` the bold.
    pub(crate) fn new(faces: Vec<FontFace>, regular: Vec<usize>, bold: Vec<usize>) -> FontSet {
        FontSet {
            faces,
            regular,
            bold,
        }
    }

    /// Appends a font at the end of both chains.
    pub(crate) fn push_fallback(&mut self, face: FontFace) {
        let i = self.faces.len();
        self.faces.push(face);
        self.regular.push(i);
        self.bold.push(i);
    }

    fn chain(&self, weight: Weight) -> &[usize] {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// Glyphs of one font, in visual order, for `text`.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) face: usize,
    pub(crate) text: String,
    pub(crate) glyphs: Vec<KrillaGlyph>,
    /// Advance, in em.
    pub(crate) advance: f32,
}

/// One shaped line, ready to draw.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) runs: Vec<Run>,
    pub(crate) size: f32,
    /// Width at `size`, in points.
    pub(crate) width: f32,
    /// Some character had no glyph in any font (drawn as `.notdef`).
    pub(crate) missing: bool,
    /// The text, as given (after clean-up): what tests look for.
    pub(crate) text: String,
}

/// Replaces what cannot be drawn on one line: controls and separators become
/// spaces; byte-order marks and explicit bidi controls are dropped (the
/// algorithm orders the text by itself). Names, titles and reasons with bidi
/// controls are refused at input (`cadre_protocol::bidi_control`), so none
/// reach a document from this server; this only guards text stored before
/// that check existed.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{FEFF}' | '\u{FFFE}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            '\u{2028}' | '\u{2029}' => Some(' '),
            c if c.is_control() => Some(' '),
            c => Some(c),
        })
        .collect()
}

/// Spaces a line may break at: all but the no-break ones (French puts a
/// narrow no-break space before `:` and inside « »).
fn breakable(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{202F}' | '\u{2007}')
}

/// Combining marks of the scripts the bundled fonts cover, and joiners:
/// they stay in the run of their base character.
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{0591}'..='\u{05C7}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}'
        | '\u{0900}'..='\u{0903}'
        | '\u{093A}'..='\u{094F}'
        | '\u{0951}'..='\u{0957}'
        | '\u{0962}'..='\u{0963}'
        | '\u{0E31}'
        | '\u{0E34}'..='\u{0E3A}'
        | '\u{0E47}'..='\u{0E4E}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}')
}

impl FontSet {
    /// Shapes `text` on one line.
    pub(crate) fn line(&self, text: &str, weight: Weight, size: f32) -> Line {
        let text = clean(text);
        let mut runs = Vec::new();
        let mut missing = false;
        if !text.is_empty() {
            let bidi = ParagraphBidiInfo::new(&text, None);
            let (levels, visual) = bidi.visual_runs(0..text.len());
            for range in visual {
                let rtl = levels[range.start].is_rtl();
                let mut pieces = self.split_by_font(&text[range.clone()], weight);
                if rtl {
                    pieces.reverse();
                }
                for (face, piece) in pieces {
                    let run = self.shape(face, piece, rtl);
                    missing |= run.glyphs.iter().any(|g| g.glyph_id.to_u32() == 0);
                    runs.push(run);
                }
            }
        }
        let width = runs.iter().map(|r| r.advance).sum::<f32>() * size;
        Line {
            runs,
            size,
            width,
            missing,
            text,
        }
    }

    /// Width of `text` on one line, in points.
    pub(crate) fn width(&self, text: &str, weight: Weight, size: f32) -> f32 {
        self.line(text, weight, size).width
    }

    /// `text` on one line, cut and ended with "…" when wider than `max`.
    pub(crate) fn truncated(&self, text: &str, weight: Weight, size: f32, max: f32) -> Line {
        let full = self.line(text, weight, size);
        if full.width <= max {
            return full;
        }
        let text = full.text;
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        // The longest prefix (in characters) that fits with the ellipsis.
        let (mut lo, mut hi) = (0usize, bounds.len());
        let candidate = |k: usize| {
            let end = bounds.get(k).copied().unwrap_or(text.len());
            format!("{}…", text[..end].trim_end())
        };
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.width(&candidate(mid), weight, size) <= max {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.line(&candidate(lo), weight, size)
    }

    /// `text` wrapped on lines no wider than `max`. Explicit `\n` start a new
    /// line; a word wider than a line is cut between characters.
    pub(crate) fn wrapped(&self, text: &str, weight: Weight, size: f32, max: f32) -> Vec<Line> {
        let mut out = Vec::new();
        for paragraph in text.split('\n') {
            let mut current = String::new();
            for word in paragraph.split(breakable).filter(|w| !w.is_empty()) {
                let candidate = if current.is_empty() {
                    word.to_owned()
                } else {
                    format!("{current} {word}")
                };
                if self.width(&candidate, weight, size) <= max {
                    current = candidate;
                    continue;
                }
                if !current.is_empty() {
                    out.push(self.line(&current, weight, size));
                }
                // The word alone: cut it while it does not fit.
                let mut rest = word.to_owned();
                while self.width(&rest, weight, size) > max {
                    let cut = self.fitting_prefix(&rest, weight, size, max);
                    out.push(self.line(&rest[..cut], weight, size));
                    rest = rest[cut..].to_owned();
                }
                current = rest;
            }
            out.push(self.line(&current, weight, size));
        }
        out
    }

    /// Byte length of the longest prefix of `s` (at least one character)
    /// that fits in `max`.
    fn fitting_prefix(&self, s: &str, weight: Weight, size: f32, max: f32) -> usize {
        let bounds: Vec<usize> = s
            .char_indices()
            .map(|(i, _)| i)
            .skip(1)
            .chain([s.len()])
            .collect();
        let (mut lo, mut hi) = (0usize, bounds.len() - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.width(&s[..bounds[mid]], weight, size) <= max {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        bounds[lo]
    }

    /// Cuts `text` (one direction) into pieces of one font each, in logical
    /// order.
    fn split_by_font<'t>(&self, text: &'t str, weight: Weight) -> Vec<(usize, &'t str)> {
        let chain = self.chain(weight);
        let mut pieces: Vec<(usize, &'t str)> = Vec::new();
        let mut start = 0;
        let mut current: Option<usize> = None;
        for (i, c) in text.char_indices() {
            let keep =
                current.filter(|&f| (!c.is_alphabetic() || is_mark(c)) && self.faces[f].covers(c));
            let face = keep.unwrap_or_else(|| {
                chain
                    .iter()
                    .copied()
                    .find(|&f| self.faces[f].covers(c))
                    // Nothing has it: the current font's (or the primary's)
                    // .notdef, flagged by the caller.
                    .unwrap_or_else(|| current.unwrap_or(chain[0]))
            });
            if current != Some(face) {
                if let Some(f) = current {
                    pieces.push((f, &text[start..i]));
                }
                current = Some(face);
                start = i;
            }
        }
        if let Some(f) = current {
            pieces.push((f, &text[start..]));
        }
        pieces
    }

    fn shape(&self, face: usize, text: &str, rtl: bool) -> Run {
        let f = &self.faces[face];
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(if rtl {
            Direction::RightToLeft
        } else {
            Direction::LeftToRight
        });
        let output = rustybuzz::shape(&f.shaper, &[], buffer);
        let upem = f.shaper.units_per_em() as f32;
        let infos = output.glyph_infos();
        let positions = output.glyph_positions();
        // A glyph's text is its cluster: from its start to the next larger
        // cluster start (whatever the visual order).
        let mut starts: Vec<usize> = infos.iter().map(|g| g.cluster as usize).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut advance = 0.0;
        let glyphs = infos
            .iter()
            .zip(positions)
            .map(|(info, pos)| {
                let start = info.cluster as usize;
                let end = starts
                    .iter()
                    .copied()
                    .find(|&s| s > start)
                    .unwrap_or(text.len());
                advance += pos.x_advance as f32 / upem;
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    pos.x_advance as f32 / upem,
                    pos.x_offset as f32 / upem,
                    pos.y_offset as f32 / upem,
                    pos.y_advance as f32 / upem,
                    start..end,
                    None,
                )
            })
            .collect();
        Run {
            face,
            text: text.to_owned(),
            glyphs,
            advance,
        }
    }
}
