//! The action registry: every command the console can run, with its name (used in keymap files
//! and on the command line), the context it belongs to and a description. The help screen and the
//! status-bar key hints are generated from this table, so they cannot drift from the code.

use std::fmt;
use std::str::FromStr;

/// Where a key binding applies (one table per context in keymap files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Stream,
    /// The conversation view (over the stream); keys it does not bind are the stream's.
    Conversation,
    Profile,
    Composer,
    /// A scrolled overlay: the help, the bulk results, the guard's new messages.
    Pager,
    /// A one-line input: the command line, and the query of every picker.
    Prompt,
    /// A list under a query (filter, canned replies, reassign, link); keys it does not bind
    /// are the prompt's.
    Picker,
    /// The offline-feedback form; keys it does not bind are the prompt's.
    Form,
    /// The stale-send guard; keys it does not bind are the pager's.
    Guard,
    /// A yes/no question (clearing a draft): only a yes key acts, any other key is no.
    Confirm,
}

impl Context {
    pub const ALL: &'static [Context] = &[
        Context::Global,
        Context::Stream,
        Context::Conversation,
        Context::Profile,
        Context::Composer,
        Context::Pager,
        Context::Prompt,
        Context::Picker,
        Context::Form,
        Context::Guard,
        Context::Confirm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Stream => "stream",
            Context::Conversation => "conversation",
            Context::Profile => "profile",
            Context::Composer => "composer",
            Context::Pager => "pager",
            Context::Prompt => "prompt",
            Context::Picker => "picker",
            Context::Form => "form",
            Context::Guard => "guard",
            Context::Confirm => "confirm",
        }
    }

    /// The tables a key falls back to, nearest first, when this one does not bind it. The
    /// panes fall back to the global table last; an overlay never does (a `q` typed into the
    /// command line is text, not quit).
    pub fn parents(self) -> &'static [Context] {
        match self {
            Context::Global => &[],
            Context::Conversation => &[Context::Stream, Context::Global],
            Context::Stream | Context::Profile | Context::Composer => &[Context::Global],
            Context::Pager | Context::Prompt | Context::Confirm => &[],
            Context::Picker | Context::Form => &[Context::Prompt],
            Context::Guard => &[Context::Pager],
        }
    }

    /// The table of an open overlay, as opposed to a pane's.
    pub fn is_overlay(self) -> bool {
        !matches!(
            self,
            Context::Global
                | Context::Stream
                | Context::Conversation
                | Context::Profile
                | Context::Composer
        )
    }

    /// Whether a key of this table may be bound to `action`: its own actions and those of the
    /// tables it falls back to.
    pub fn may_bind(self, action: Action) -> bool {
        let home = action.context();
        home == self || self.parents().contains(&home)
    }

    pub fn parse(s: &str) -> Option<Context> {
        Context::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

macro_rules! actions {
    ($($variant:ident = $name:literal, $ctx:ident, $desc:literal;)+) => {
        /// A command of the console, bindable to keys.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),+ }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),+];

            /// The name used in keymap files and on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),+ }
            }

            /// The context whose table may bind it (global actions may be bound anywhere).
            pub fn context(self) -> Context {
                match self { $(Action::$variant => Context::$ctx),+ }
            }

            pub fn description(self) -> &'static str {
                match self { $(Action::$variant => $desc),+ }
            }
        }
    };
}

actions! {
    Quit = "quit", Global, "Quit (drafts are saved first)";
    Help = "help", Global, "Show or hide this help";
    CommandLine = "command_line", Global, "Open the command line (:view, :theme, :q...)";
    FocusNext = "focus_next", Global, "Focus the next pane";
    FocusPrev = "focus_prev", Global, "Focus the previous pane";
    FocusStream = "focus_stream", Global, "Focus the stream";
    FocusProfile = "focus_profile", Global, "Focus the profile";
    FocusComposer = "focus_composer", Global, "Focus the composer";
    ViewMine = "view_mine", Global, "View: my queue";
    ViewDept = "view_dept", Global, "View: my department";
    ViewAll = "view_all", Global, "View: all feedback";
    ViewUnassigned = "view_unassigned", Global, "View: items nobody is assigned";
    CycleView = "cycle_view", Global, "Cycle views (mine, department, unassigned, all)";
    ToggleFollow = "toggle_follow", Global, "Follow mode: keep the newest item selected";
    ToggleZoom = "toggle_zoom", Global, "Zoom the focused pane";
    CopyLink = "copy_link", Global, "Copy the item's link (OSC 52)";
    CopyCustomerId = "copy_customer_id", Global, "Copy the customer id (OSC 52)";
    Refresh = "refresh", Global, "Refetch the stream";
    Team = "team", Global, "Team screen: response times, SLA, breached items, agents, sentiment (supervisors; Esc closes, w window, Enter opens)";
    SelectNext = "select_next", Stream, "Select the next (older) item";
    SelectPrev = "select_prev", Stream, "Select the previous (newer) item";
    PageDown = "page_down", Stream, "Page down";
    PageUp = "page_up", Stream, "Page up";
    SelectFirst = "select_first", Stream, "Select the newest item";
    SelectLast = "select_last", Stream, "Select the oldest item";
    Filter = "filter", Stream, "Filter the stream: free text and is:late sentiment:negative role:detractor channel:x status:open @handle";
    CycleSort = "cycle_sort", Stream, "Sort the stream: arrival, SLA due time, priority";
    OpenConversation = "open_conversation", Stream, "Open the conversation: the whole post, the thread, its participants";
    ClearFilter = "clear_filter", Stream, "Clear the filter";
    Reply = "reply", Stream, "Reply to the selected item";
    AssignToMe = "assign_to_me", Stream, "Claim the selected item (assign it to me)";
    Reassign = "reassign", Stream, "Reassign the item to an agent or a department (picker)";
    Escalate = "escalate", Stream, "Escalate: priority urgent, assigned to a supervisor";
    SetPending = "set_pending", Stream, "Mark the selected item pending";
    Resolve = "resolve", Stream, "Mark the selected item resolved";
    CycleTone = "cycle_tone", Stream, "Correct the tone: negative, neutral, positive (teaches the triage model)";
    LogFeedback = "log_feedback", Stream, "Log offline feedback (phone, in person, form) for this customer";
    ToggleMark = "toggle_mark", Stream, "Mark or unmark the item for a macro reply to many";
    ClearMarks = "clear_marks", Stream, "Unmark every item";
    SendMacroToMarked = "send_macro_to_marked", Global, "Send the public part of this reply to every marked item";
    CloseConversation = "close_conversation", Conversation, "Back to the stream";
    ConversationDown = "conversation_down", Conversation, "Scroll the conversation down";
    ConversationUp = "conversation_up", Conversation, "Scroll the conversation up";
    ConversationPageDown = "conversation_page_down", Conversation, "Page the conversation down";
    ConversationPageUp = "conversation_page_up", Conversation, "Page the conversation up";
    ConversationTop = "conversation_top", Conversation, "To the start of the conversation";
    ConversationBottom = "conversation_bottom", Conversation, "To the newest message";
    ProfileDown = "profile_down", Profile, "Scroll the profile down";
    ProfileUp = "profile_up", Profile, "Scroll the profile up";
    LinkIdentity = "link_identity", Profile, "Link the author to a customer (search)";
    NextItem = "next_item", Global, "Next (older) item: the selection and the composer move together";
    PrevItem = "prev_item", Global, "Previous (newer) item: the selection and the composer move together";
    ResolveItem = "resolve_item", Global, "Resolve the item being answered (else the selected one)";
    SendReply = "send_reply", Composer, "Send the reply";
    SendAndResolve = "send_and_resolve", Composer, "Send the reply, then resolve the item";
    Undo = "undo", Composer, "Undo the last edit (a paste, a cleared draft)";
    CycleReplyType = "cycle_reply_type", Composer, "Reply type: micro (direct), macro (public), both";
    SwitchPart = "switch_part", Composer, "Switch between the public and direct parts";
    OpenEditor = "open_editor", Composer, "Edit the part in $EDITOR";
    CannedReply = "canned_reply", Composer, "Insert a canned reply (fuzzy picker)";
    NextViolation = "next_violation", Composer, "Jump to the next rule violation";
    ApplyFix = "apply_fix", Composer, "Apply the fix of the violation under the cursor";
    LeaveComposer = "leave_composer", Composer, "Leave the composer (the draft is kept)";
    ClearDraft = "clear_draft", Composer, "Clear the draft of this item (asks first)";
    PagerDown = "pager_down", Pager, "Scroll down a line";
    PagerUp = "pager_up", Pager, "Scroll up a line";
    PagerPageDown = "pager_page_down", Pager, "Scroll down a page";
    PagerPageUp = "pager_page_up", Pager, "Scroll up a page";
    PagerTop = "pager_top", Pager, "Back to the top";
    CloseOverlay = "close_overlay", Pager, "Close (the help closes on any other key too)";
    PromptAccept = "prompt_accept", Prompt, "Accept: run the command, take the choice, log the form";
    PromptCancel = "prompt_cancel", Prompt, "Cancel and close (the filter's cancel also clears it)";
    PromptBackspace = "prompt_backspace", Prompt, "Delete the character before the cursor (on an empty command line: close it)";
    PromptLeft = "prompt_left", Prompt, "Cursor left";
    PromptRight = "prompt_right", Prompt, "Cursor right";
    PromptStart = "prompt_start", Prompt, "Cursor to the start of the line";
    PromptEnd = "prompt_end", Prompt, "Cursor to the end of the line";
    PromptClear = "prompt_clear", Prompt, "Clear the line";
    PickerDown = "picker_down", Picker, "Next choice (in the filter: the next item)";
    PickerUp = "picker_up", Picker, "Previous choice (in the filter: the previous item)";
    FormNextChannel = "form_next_channel", Form, "Next channel (phone, in person, form)";
    FormPrevChannel = "form_prev_channel", Form, "Previous channel";
    GuardSend = "guard_send", Guard, "I have read them: send the reply";
    GuardKeep = "guard_keep", Guard, "Do not send; the draft is kept";
    ConfirmYes = "confirm_yes", Confirm, "Yes (any other key is no)";
}

impl Action {
    /// Whether the action changes data on the server (or writes a reply): disabled, and marked
    /// so in the help, in a read-only console.
    pub fn changes_data(self) -> bool {
        matches!(
            self,
            Action::Reply
                | Action::AssignToMe
                | Action::Reassign
                | Action::Escalate
                | Action::SetPending
                | Action::Resolve
                | Action::CycleTone
                | Action::LogFeedback
                | Action::SendMacroToMarked
                | Action::LinkIdentity
                | Action::SendReply
                | Action::OpenEditor
                | Action::CannedReply
                | Action::ApplyFix
                | Action::ClearDraft
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown action '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        for a in Action::ALL {
            assert_eq!(a.name().parse::<Action>().unwrap(), *a);
        }
        assert!("fly".parse::<Action>().is_err());
    }
}
