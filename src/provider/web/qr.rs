//! The page's URL as a QR code for a terminal, two modules per character cell.
//!
//! Each cell is a Unicode half block whose upper and lower halves are one module each. Colours
//! are set explicitly (white light modules, black dark modules) so the code scans the same on
//! dark and light terminal themes; a quiet zone of light modules surrounds it, as scanners need.

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code. The standard asks for 4; 2 scans reliably from a screen
/// and keeps the code small.
const QUIET: usize = 2;
/// White foreground (light modules), black background (dark modules).
const COLOURS: &str = "\x1b[97;40m";
const RESET: &str = "\x1b[0m";

/// The QR code of `text`, as lines ending in `\n`; `None` if it does not fit a QR code.
pub fn render(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    let light = |x: usize, y: usize| {
        let inside = (QUIET..QUIET + width).contains(&x) && (QUIET..QUIET + width).contains(&y);
        !inside || colors[(y - QUIET) * width + (x - QUIET)] == Color::Light
    };
    let mut out = String::with_capacity(size.div_ceil(2) * (size * 3 + 16));
    for y in (0..size).step_by(2) {
        out.push_str(COLOURS);
        for x in 0..size {
            // Below the last row is more quiet zone.
            let bottom = y + 1 >= size || light(x, y + 1);
            out.push(match (light(x, y), bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(RESET);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_square_half_block_rows() {
        let url = "http://127.0.0.1:43210/r/AAAAAAAAAAAAAAAAAAAAAA/";
        let qr = render(url).unwrap();
        let width = QrCode::with_error_correction_level(url, EcLevel::L)
            .unwrap()
            .width();
        let size = width + 2 * QUIET;
        let rows: Vec<&str> = qr.lines().collect();
        assert_eq!(rows.len(), size.div_ceil(2));
        for row in &rows {
            let cells = row
                .strip_prefix(COLOURS)
                .and_then(|r| r.strip_suffix(RESET))
                .unwrap();
            assert_eq!(cells.chars().count(), size);
            assert!(cells.chars().all(|c| "█▀▄ ".contains(c)));
        }
        // The quiet zone: the first row is all light.
        assert!(rows[0].contains(&"█".repeat(size)));
    }

    #[test]
    fn a_finder_pattern_is_drawn() {
        let qr = render("x").unwrap();
        // Output row 1 holds module rows 2 and 3: the finder pattern's top-left corner, dark in
        // both, after two columns of quiet zone.
        let row = qr.lines().nth(1).unwrap().strip_prefix(COLOURS).unwrap();
        assert!(row.starts_with("██"), "quiet zone on the left: {row:?}");
        assert_eq!(row.chars().nth(QUIET), Some(' '), "finder is dark: {row:?}");
    }
}
