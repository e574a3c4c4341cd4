//! Terminal modes an agent can leave switched on, and the bytes that switch them off.
//!
//! The screen model reports which modes are on after every batch of output; when the session
//! ends (or on a panic) the bridge writes the resets for exactly those modes, so a crashed agent
//! does not leave the user's terminal on the alternate screen with no cursor and mouse reporting.

use std::sync::atomic::{AtomicU32, Ordering};

/// A set of modes, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modes(pub u32);

impl Modes {
    pub const ALTERNATE_SCREEN: Modes = Modes(1);
    pub const HIDDEN_CURSOR: Modes = Modes(1 << 1);
    pub const BRACKETED_PASTE: Modes = Modes(1 << 2);
    pub const MOUSE: Modes = Modes(1 << 3);
    pub const APPLICATION_CURSOR: Modes = Modes(1 << 4);
    pub const APPLICATION_KEYPAD: Modes = Modes(1 << 5);
    pub const FOCUS_EVENTS: Modes = Modes(1 << 6);
    pub const KITTY_KEYBOARD: Modes = Modes(1 << 7);
    /// Colours or attributes (bold, inverse, ...) still active.
    pub const ATTRIBUTES: Modes = Modes(1 << 8);

    pub fn contains(self, other: Modes) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Modes) {
        self.0 |= other.0;
    }

    /// The bytes that switch these modes off, in a safe order (leave the alternate screen
    /// first, so the rest applies to the main screen).
    pub fn reset_sequence(self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut add = |mode: Modes, bytes: &[u8]| {
            if self.contains(mode) {
                out.extend_from_slice(bytes);
            }
        };
        add(Modes::ALTERNATE_SCREEN, b"\x1b[?1049l");
        add(
            Modes::MOUSE,
            b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l",
        );
        add(Modes::BRACKETED_PASTE, b"\x1b[?2004l");
        add(Modes::FOCUS_EVENTS, b"\x1b[?1004l");
        // Popping more entries than the stack holds empties it (kitty keyboard protocol).
        add(Modes::KITTY_KEYBOARD, b"\x1b[<99u");
        add(Modes::APPLICATION_CURSOR, b"\x1b[?1l");
        add(Modes::APPLICATION_KEYPAD, b"\x1b>");
        add(Modes::ATTRIBUTES, b"\x1b[0m");
        add(Modes::HIDDEN_CURSOR, b"\x1b[?25h");
        out
    }
}

/// A light tracker of the same modes straight from the byte stream, without a screen.
///
/// At the end of a session the screen model may be far behind the output (after a huge burst);
/// rather than making the user wait for it to render bytes nobody will look at, the rest of the
/// stream is only scanned for mode switches, starting from the model's state.
#[derive(Debug, Clone)]
pub struct Scan {
    modes: Modes,
    /// Mouse modes and encodings on, by bit; bit 7: on before the scan started (unknown which).
    mouse: u8,
    kitty_depth: u32,
    kitty_flags: bool,
    /// An escape sequence cut by the end of the previous chunk.
    carry: Vec<u8>,
    /// Inside an OSC/DCS/APC string (skipped up to its terminator).
    in_string: bool,
}

impl Scan {
    pub fn new(start: Modes) -> Scan {
        Scan {
            modes: start,
            mouse: if start.contains(Modes::MOUSE) {
                0x80
            } else {
                0
            },
            kitty_depth: u32::from(start.contains(Modes::KITTY_KEYBOARD)),
            kitty_flags: false,
            carry: Vec::new(),
            in_string: false,
        }
    }

    pub fn modes(&self) -> Modes {
        let mut modes = self.modes;
        let set = |modes: &mut Modes, mode: Modes, on: bool| {
            if on {
                modes.insert(mode);
            } else {
                modes.0 &= !mode.0;
            }
        };
        set(&mut modes, Modes::MOUSE, self.mouse != 0);
        set(
            &mut modes,
            Modes::KITTY_KEYBOARD,
            self.kitty_depth > 0 || self.kitty_flags,
        );
        modes
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let joined;
        let data = if self.carry.is_empty() {
            bytes
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), bytes].concat();
            &joined[..]
        };
        let mut i = 0;
        while i < data.len() {
            if self.in_string {
                // Up to BEL, or ESC (which ends the string as ST or starts a new sequence).
                match memchr::memchr2(0x07, 0x1b, &data[i..]) {
                    Some(at) => {
                        self.in_string = false;
                        i += at + usize::from(data[i + at] == 0x07);
                    }
                    None => return,
                }
                continue;
            }
            let Some(at) = memchr::memchr(0x1b, &data[i..]) else {
                return;
            };
            let start = i + at;
            let Some(len) = self.sequence(&data[start..]) else {
                // Cut by the end of the chunk: keep it for the next one (bounded).
                if data.len() - start <= 256 {
                    self.carry = data[start..].to_vec();
                }
                return;
            };
            i = start + len;
        }
    }

    /// Apply the sequence at the start of `seq` (which starts with ESC); its length, or `None`
    /// if it is incomplete.
    fn sequence(&mut self, seq: &[u8]) -> Option<usize> {
        match *seq.get(1)? {
            b'[' => {
                let end = seq[2..].iter().position(|b| (0x40..=0x7e).contains(b))? + 2;
                self.csi(&seq[2..end], seq[end]);
                Some(end + 1)
            }
            b'=' => {
                self.modes.insert(Modes::APPLICATION_KEYPAD);
                Some(2)
            }
            b'>' => {
                self.modes.0 &= !Modes::APPLICATION_KEYPAD.0;
                Some(2)
            }
            b'c' => {
                *self = Scan::new(Modes::default());
                Some(2)
            }
            b']' | b'P' | b'_' | b'^' | b'X' => {
                self.in_string = true;
                Some(2)
            }
            _ => Some(2),
        }
    }

    fn csi(&mut self, body: &[u8], last: u8) {
        let (prefix, params) = match body.first() {
            Some(p @ (b'?' | b'<' | b'=' | b'>')) => (Some(*p), &body[1..]),
            _ => (None, body),
        };
        let numbers: Vec<u32> = params
            .split(|&b| b == b';')
            .map(|p| {
                p.iter()
                    .take_while(|b| b.is_ascii_digit())
                    .fold(0u32, |n, b| {
                        n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
                    })
            })
            .collect();
        let first = numbers.first().copied().unwrap_or(0);
        match (prefix, last) {
            (Some(b'?'), b'h' | b'l') => {
                let on = last == b'h';
                for n in numbers {
                    self.private_mode(n, on);
                }
            }
            (Some(b'>'), b'u') => self.kitty_depth = self.kitty_depth.saturating_add(1),
            (Some(b'<'), b'u') => {
                self.kitty_depth = self.kitty_depth.saturating_sub(first.max(1));
                if self.kitty_depth == 0 {
                    self.kitty_flags = false;
                }
            }
            (Some(b'='), b'u') => self.kitty_flags = first != 0,
            (None, b'm') => {
                if numbers.iter().all(|&n| n == 0) {
                    self.modes.0 &= !Modes::ATTRIBUTES.0;
                } else {
                    self.modes.insert(Modes::ATTRIBUTES);
                }
            }
            _ => {}
        }
    }

    fn private_mode(&mut self, n: u32, on: bool) {
        let mode = match n {
            1 => Modes::APPLICATION_CURSOR,
            25 => {
                // DECTCEM: "h" shows the cursor.
                if on {
                    self.modes.0 &= !Modes::HIDDEN_CURSOR.0;
                } else {
                    self.modes.insert(Modes::HIDDEN_CURSOR);
                }
                return;
            }
            47 | 1047 | 1049 => Modes::ALTERNATE_SCREEN,
            1004 => Modes::FOCUS_EVENTS,
            2004 => Modes::BRACKETED_PASTE,
            9 | 1000 | 1002 | 1003 | 1005 | 1006 | 1015 => {
                let bit = match n {
                    9 => 1,
                    1000 => 2,
                    1002 => 4,
                    1003 => 8,
                    1005 => 16,
                    1006 => 32,
                    _ => 64,
                };
                if on {
                    self.mouse |= bit;
                } else {
                    self.mouse &= !(bit | 0x80);
                }
                return;
            }
            _ => return,
        };
        if on {
            self.modes.insert(mode);
        } else {
            self.modes.0 &= !mode.0;
        }
    }
}

/// The modes left on as last reported by the screen model, for the panic hook.
static LEFT_ON: AtomicU32 = AtomicU32::new(0);

pub fn publish(modes: Modes) {
    LEFT_ON.store(modes.0, Ordering::Relaxed);
}

/// Take the published modes (the resets are being written, nobody should write them again).
pub fn take_published() -> Modes {
    Modes(LEFT_ON.swap(0, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::Modes;

    #[test]
    fn the_scan_follows_mode_switches_across_chunks() {
        let mut scan = super::Scan::new(Modes::HIDDEN_CURSOR);
        scan.feed(b"text\x1b[?1049h\x1b[?20");
        scan.feed(b"04h\x1b]2;a title with [?25h inside\x07\x1b[1;31mred");
        let modes = scan.modes();
        assert!(modes.contains(Modes::ALTERNATE_SCREEN));
        assert!(modes.contains(Modes::BRACKETED_PASTE));
        assert!(
            modes.contains(Modes::HIDDEN_CURSOR),
            "the OSC string is not parsed"
        );
        assert!(modes.contains(Modes::ATTRIBUTES));
        scan.feed(b"\x1b[0m\x1b[?25h\x1b[?1000;1006h\x1b[>1u\x1b=");
        let modes = scan.modes();
        assert!(!modes.contains(Modes::ATTRIBUTES));
        assert!(!modes.contains(Modes::HIDDEN_CURSOR));
        assert!(modes.contains(Modes::MOUSE));
        assert!(modes.contains(Modes::KITTY_KEYBOARD));
        assert!(modes.contains(Modes::APPLICATION_KEYPAD));
        scan.feed(b"\x1b[?1000l\x1b[?1006l\x1b[<u\x1b>\x1b[?2004l\x1b[?1049l");
        assert_eq!(scan.modes(), Modes::default());
    }

    #[test]
    fn only_modes_left_on_are_reset() {
        assert!(Modes::default().reset_sequence().is_empty());
        let mut modes = Modes::HIDDEN_CURSOR;
        modes.insert(Modes::ALTERNATE_SCREEN);
        assert_eq!(modes.reset_sequence(), b"\x1b[?1049l\x1b[?25h");
    }
}
