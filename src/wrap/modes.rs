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
    fn only_modes_left_on_are_reset() {
        assert!(Modes::default().reset_sequence().is_empty());
        let mut modes = Modes::HIDDEN_CURSOR;
        modes.insert(Modes::ALTERNATE_SCREEN);
        assert_eq!(modes.reset_sequence(), b"\x1b[?1049l\x1b[?25h");
    }
}
