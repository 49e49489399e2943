use crate::domain::PresenceState;
use crate::tui::effect::Effect;
use crate::tui::model::*;

/// Presence not refreshed for this long is dropped.
pub(crate) const PRESENCE_TTL_SECS: i64 = 120;

/// Our presence is announced again this often while it holds.
pub(crate) const PRESENCE_REFRESH_SECS: i64 = 60;

/// Announce our presence on an item.
pub(crate) fn announce(m: &mut Model, id: &str, state: PresenceState) -> Effect {
    m.my_presence = Some((id.to_string(), state));
    m.my_presence_at = Some(m.now);
    Effect::SetPresence {
        feedback_id: id.to_string(),
        state,
    }
}
