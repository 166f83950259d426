//! The organisation's signature-and-stamp picture (a scanned or photographed
//! PNG or JPEG), printed beside the server's seal on the documents that an
//! official model asks to be signed and stamped.
//!
//! A picture is checked when the organisation gives it, by writing it into a
//! throwaway archival PDF: krilla decodes lazily, so a file that only *starts*
//! like a PNG would otherwise fail later, when a beneficiary asks for their
//! certificate.

use krilla::Data;
use krilla::configure::{Configuration, Validator};
use krilla::geom::{Size, Transform};
use krilla::page::PageSettings;
use krilla::{Document, SerializeSettings};

use super::RenderError;

/// Largest picture accepted, in bytes: a stamp scanned at 300 dpi fits in a
/// fraction of it, and every certificate embeds it.
pub const MAX_PICTURE_BYTES: usize = 512 * 1024;
/// Largest side, in pixels.
const MAX_SIDE: u32 = 4000;

/// A checked picture, ready to be drawn.
#[derive(Debug, Clone)]
pub struct Picture {
    image: krilla::image::Image,
    /// Pixels.
    width: u32,
    height: u32,
}

impl Picture {
    /// Checks `bytes` (PNG or JPEG, recognised by their signature) and keeps
    /// them ready to draw. The error says what is wrong in words a person
    /// uploading a scan understands.
    pub fn new(bytes: &[u8]) -> Result<Picture, RenderError> {
        if bytes.is_empty() {
            return Err(RenderError::Picture("the picture is empty".into()));
        }
        if bytes.len() > MAX_PICTURE_BYTES {
            return Err(RenderError::Picture(format!(
                "the picture is {} KiB; at most {} KiB",
                bytes.len().div_ceil(1024),
                MAX_PICTURE_BYTES / 1024
            )));
        }
        let data: Data = bytes.to_vec().into();
        // PDF/A forbids asking the reader to interpolate pixels.
        let image = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            krilla::image::Image::from_png(data, false)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            krilla::image::Image::from_jpeg(data, false)
        } else {
            return Err(RenderError::Picture(
                "the picture must be a PNG or JPEG file".into(),
            ));
        }
        .map_err(|e| RenderError::Picture(format!("the picture cannot be read: {e}")))?;
        let (width, height) = image.size();
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(RenderError::Picture(format!(
                "the picture is {width}×{height} pixels; each side must be 1 to {MAX_SIDE}"
            )));
        }
        let picture = Picture {
            image,
            width,
            height,
        };
        picture.probe()?;
        Ok(picture)
    }

    /// Writes the picture into an archival PDF, which decodes it in full.
    fn probe(&self) -> Result<(), RenderError> {
        let mut document = Document::new_with(SerializeSettings {
            configuration: Configuration::new_with_validator(Validator::A2_U),
            enable_tagging: false,
            ..SerializeSettings::default()
        });
        let settings = PageSettings::from_wh(100.0, 100.0)
            .ok_or_else(|| RenderError::Pdf("invalid page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        self.draw(&mut surface, (0.0, 0.0, 100.0, 100.0));
        surface.finish();
        page.finish();
        document
            .finish()
            .map(drop)
            .map_err(|e| RenderError::Picture(format!("the picture cannot be embedded: {e:?}")))
    }

    /// The size of the picture fitted into a `w`×`h` box, undistorted.
    pub(crate) fn fitted(&self, w: f32, h: f32) -> (f32, f32) {
        let scale = (w / self.width as f32).min(h / self.height as f32);
        (self.width as f32 * scale, self.height as f32 * scale)
    }

    /// Draws the picture fitted into the box `(x, y, w, h)` (top-left origin),
    /// centred in it.
    pub(crate) fn draw(&self, surface: &mut krilla::surface::Surface<'_>, b: (f32, f32, f32, f32)) {
        let (x, y, w, h) = b;
        let (fw, fh) = self.fitted(w, h);
        let Some(size) = Size::from_wh(fw, fh) else {
            return;
        };
        surface.push_transform(&Transform::from_translate(
            x + (w - fw) / 2.0,
            y + (h - fh) / 2.0,
        ));
        surface.draw_image(self.image.clone(), size);
        surface.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×2 red RGBA PNG.
    pub(crate) const RED_PNG: [u8; 75] = [
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00, 0x00, 0x00, 0x7f,
        0xa8, 0x7d, 0x63, 0x00, 0x00, 0x00, 0x12, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x38,
        0x21, 0x27, 0xf7, 0x1f, 0x19, 0x33, 0xa0, 0x0b, 0x00, 0x00, 0x0f, 0x35, 0x10, 0x19, 0x9b,
        0xa8, 0x07, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn a_png_is_accepted_and_fitted_undistorted() {
        let p = Picture::new(&RED_PNG).expect("a valid PNG");
        assert_eq!((p.width, p.height), (4, 2));
        // A 4:2 picture in a 100×100 box is as wide as the box, half as high.
        assert_eq!(p.fitted(100.0, 100.0), (100.0, 50.0));
        assert_eq!(p.fitted(40.0, 100.0), (40.0, 20.0));
    }

    #[test]
    fn what_is_not_a_usable_picture_is_refused_in_words() {
        let err = |b: &[u8]| Picture::new(b).expect_err("refused").to_string();
        assert_eq!(err(b""), "the picture is empty");
        assert_eq!(err(b"GIF89a...."), "the picture must be a PNG or JPEG file");
        assert!(err(&vec![0u8; MAX_PICTURE_BYTES + 1]).contains("at most 512 KiB"));
        // Starts like a PNG, image data cut off: only a full decode finds it.
        let cut = &RED_PNG[..50];
        assert!(
            err(cut).starts_with("the picture cannot be"),
            "{}",
            err(cut)
        );
        // Header intact, compressed pixels replaced by garbage.
        let mut garbled = RED_PNG;
        for b in &mut garbled[41..59] {
            *b = 0x55;
        }
        assert!(
            err(&garbled).starts_with("the picture cannot be"),
            "{}",
            err(&garbled)
        );
    }
}
