//! Where vte's parser stands in a byte stream: in ground state (between escape sequences, where
//! bytes may be cut or inserted) or inside a sequence. Used by the screen model, to skim only
//! from ground state ([`super::skim`]), and by the output, to insert bytes only there.

/// The vte parser states, as far as it matters which one the parser is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    EscapeIntermediate,
    CsiEntry,
    CsiParam,
    CsiIntermediate,
    CsiIgnore,
    DcsEntry,
    DcsParam,
    DcsIntermediate,
    DcsPassthrough,
    OscString,
    /// SOS, PM, APC strings and an ignored DCS: only CAN, SUB and ESC leave them.
    Opaque,
}

/// Follows vte 0.15's state machine (`vte::Parser::advance`) over the bytes given to the model.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    state: State,
}

impl Tracker {
    pub fn ground(&self) -> bool {
        self.state == State::Ground
    }

    pub fn advance(&mut self, bytes: &[u8]) {
        // ESC starts a sequence over from any state, so where the bytes leave the parser
        // depends only on the bytes from their last ESC on.
        let start = match memchr::memrchr(0x1b, bytes) {
            Some(at) => {
                self.state = State::Escape;
                at + 1
            }
            None if self.state == State::Ground => return,
            None => 0,
        };
        for &b in &bytes[start..] {
            self.state = step(self.state, b);
        }
    }

    /// How many bytes of `bytes` finish the sequence the parser is in, back to ground state
    /// (0 in ground; all of them if it is still not there at the end). Does not advance.
    pub fn to_ground(&self, bytes: &[u8]) -> usize {
        let mut state = self.state;
        let mut i = 0;
        while state != State::Ground && i < bytes.len() {
            state = step(state, bytes[i]);
            i += 1;
        }
        i
    }
}

/// C0 controls that sequences execute or ignore without changing state.
fn is_c0(b: u8) -> bool {
    matches!(b, 0x00..=0x17 | 0x19 | 0x1c..=0x1f)
}

/// One byte outside ground state, as vte 0.15 handles it.
fn step(state: State, b: u8) -> State {
    use State::{
        CsiEntry, CsiIgnore, CsiIntermediate, CsiParam, DcsEntry, DcsIntermediate, DcsParam,
        DcsPassthrough, Escape, EscapeIntermediate, Ground, Opaque, OscString,
    };
    // "Anywhere" transitions: CAN and SUB abort, ESC starts over.
    match b {
        0x18 | 0x1a => return Ground,
        0x1b => return Escape,
        _ => {}
    }
    match state {
        Ground => Ground,
        Escape => match b {
            0x20..=0x2f => EscapeIntermediate,
            0x50 => DcsEntry,
            0x5b => CsiEntry,
            0x5d => OscString,
            0x58 | 0x5e | 0x5f => Opaque,
            0x30..=0x7e => Ground,
            _ => Escape,
        },
        EscapeIntermediate => match b {
            0x30..=0x7e => Ground,
            _ => EscapeIntermediate,
        },
        CsiEntry => match b {
            _ if is_c0(b) => CsiEntry,
            0x20..=0x2f => CsiIntermediate,
            0x30..=0x3f => CsiParam,
            0x40..=0x7e => Ground,
            _ => CsiEntry,
        },
        CsiParam => match b {
            _ if is_c0(b) => CsiParam,
            0x20..=0x2f => CsiIntermediate,
            0x3c..=0x3f => CsiIgnore,
            0x40..=0x7e => Ground,
            _ => CsiParam,
        },
        CsiIntermediate => match b {
            _ if is_c0(b) => CsiIntermediate,
            0x30..=0x3f => CsiIgnore,
            0x40..=0x7e => Ground,
            _ => CsiIntermediate,
        },
        CsiIgnore => match b {
            0x40..=0x7e => Ground,
            _ => CsiIgnore,
        },
        DcsEntry => match b {
            _ if is_c0(b) => DcsEntry,
            0x20..=0x2f => DcsIntermediate,
            0x30..=0x3f => DcsParam,
            0x40..=0x7e => DcsPassthrough,
            _ => DcsEntry,
        },
        DcsParam => match b {
            _ if is_c0(b) => DcsParam,
            0x20..=0x2f => DcsIntermediate,
            0x3c..=0x3f => Opaque,
            0x40..=0x7e => DcsPassthrough,
            _ => DcsParam,
        },
        DcsIntermediate => match b {
            _ if is_c0(b) => DcsIntermediate,
            0x30..=0x3f => Opaque,
            0x40..=0x7e => DcsPassthrough,
            _ => DcsIntermediate,
        },
        DcsPassthrough => match b {
            0x9c => Ground,
            _ => DcsPassthrough,
        },
        OscString => match b {
            0x07 => Ground,
            _ => OscString,
        },
        Opaque => Opaque,
    }
}
