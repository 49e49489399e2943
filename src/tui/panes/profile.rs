//! The profile pane: the customer behind the selected item, or why there is none (loading,
//! error, unlinked author). Never a blank.

use super::frame::{empty_pane, pane_block};
use crate::domain::{Customer, HistoryEntry, Transaction};
use crate::tui::action::Action;
use crate::tui::action::Context;
use crate::tui::model::{CustomerView, Focus, Load, Model};
use crate::tui::textutil::{handle_label, one_line, truncate_to_width};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::domain::thread::role_word as role_label;

fn yes(b: bool) -> &'static str {
    if b {
        "✓"
    } else {
        "✗"
    }
}

pub fn render(f: &mut Frame, area: Rect, m: &Model) {
    let focused = m.focus == Focus::Profile;
    let t = &m.theme;
    let Some(fb) = m.selected() else {
        empty_pane(f, area, m, "Profile", focused, "No item selected.");
        return;
    };
    let Some(cid) = m.selected_customer_id() else {
        let block = pane_block(m, "Profile · unlinked", focused);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let key = m
            .keymap
            .keys_for(Context::Profile, Action::LinkIdentity)
            .unwrap_or_else(|| ":link".into());
        let a = &fb.author;
        let mut lines = vec![
            Line::from(Span::styled(format!("{} ({} on {})", a.display_name, handle_label(a.network, &a.handle), a.network), t.get("profile.name"))),
            Line::from(Span::styled("Not linked to a customer.", t.get("profile.unlinked"))),
            Line::from(""),
            Line::from(vec![
                Span::styled("Press ", t.get("ui.text.dim")),
                Span::styled(key, t.get("ui.help.key")),
                Span::styled(" (in this pane) to link this identity to a customer found by name, email or phone.", t.get("ui.text.dim")),
            ]),
            Line::from(""),
        ];
        lines.extend(super::conversation::triage_lines(
            m,
            fb,
            inner.width as usize,
        ));
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        return;
    };
    let view = m.customers.get(&cid);
    let title = match view.and_then(|v| v.customer.loaded()) {
        Some(c) => format!("Profile · {}", c.full_name()),
        None => format!("Profile · {cid}"),
    };
    let block = pane_block(m, title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    match view.map(|v| (&v.customer, v)) {
        None | Some((Load::Loading, _)) => {
            f.render_widget(
                Paragraph::new(format!("Loading customer {cid}…")).style(t.get("ui.text.dim")),
                inner,
            );
        }
        Some((Load::Failed(e), _)) => {
            let lines = vec![
                Line::from(Span::styled(
                    format!("Could not load customer {cid}:"),
                    t.get("profile.error"),
                )),
                Line::from(Span::styled(e.clone(), t.get("profile.error"))),
                Line::from(Span::styled("C-l refreshes.", t.get("ui.text.dim"))),
            ];
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
        Some((Load::Loaded(c), v)) => render_customer(f, inner, m, c, v),
    }
}

fn render_customer(f: &mut Frame, area: Rect, m: &Model, c: &Customer, v: &CustomerView) {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let val = |s: String| Span::styled(s, t.get("profile.value"));
    // Name, tier and roles, then lifetime value and customer-since: what does not fit the
    // pane's width (80 columns) moves to lines of its own below, rather than being cut off.
    let width = area.width as usize;
    let roles: Vec<String> = c.roles.iter().map(|r| role_label(*r).to_string()).collect();
    let name_tier = format!("{}  {}", c.full_name(), c.tier);
    let roles_fit = roles.is_empty()
        || UnicodeWidthStr::width(format!("{name_tier}  {}", roles.join(", ")).as_str()) <= width;
    let mut first = vec![
        Span::styled(c.full_name(), t.get("profile.name")),
        Span::raw("  "),
        Span::styled(c.tier.clone(), t.get("profile.tier")),
    ];
    if roles_fit && !roles.is_empty() {
        first.push(Span::raw("  "));
        first.push(Span::styled(roles.join(", "), t.get("profile.role")));
    }
    let ltv = format!("{} {}", c.lifetime_value.amount, c.lifetime_value.currency);
    let since = c.created_at.format("%Y-%m-%d").to_string();
    let since_fits = UnicodeWidthStr::width(format!("LTV {ltv} · since {since}").as_str()) <= width;
    let mut second = vec![lbl("LTV "), val(ltv)];
    if since_fits {
        second.extend([lbl(" · since "), val(since.clone())]);
    }
    let head = vec![Line::from(first), Line::from(second)];
    let spark_h = if area.height >= 16 { 2 } else { 1 };
    let [head_area, spark_area, rest_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(spark_h),
        Constraint::Min(0),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(head), head_area);

    render_sparkline(f, spark_area, m, c);

    let w = rest_area.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    // The item's triage and the cues that decided it, before the customer's details.
    if let Some(fb) = m.selected() {
        lines.extend(super::conversation::triage_lines(m, fb, w));
    }
    if !roles_fit {
        for (label, text) in wrap_items("Roles ", &roles, ", ", w) {
            lines.push(Line::from(vec![
                lbl(&label),
                Span::styled(text, t.get("profile.role")),
            ]));
        }
    }
    if !since_fits {
        lines.push(Line::from(vec![lbl("Since "), val(since)]));
    }
    lines.extend(details_lines(m, c, w));
    lines.extend(identity_lines(m, c));
    lines.extend(transaction_lines(m, v, w));
    lines.extend(history_lines(m, v, w));
    let max_scroll = (lines.len() as u16).saturating_sub(rest_area.height);
    f.render_widget(
        Paragraph::new(lines).scroll((m.profile_scroll.min(max_scroll), 0)),
        rest_area,
    );
}

/// The customer's sentiment over time, the most recent values that fit.
fn render_sparkline(f: &mut Frame, spark_area: Rect, m: &Model, c: &Customer) {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let [spark_label, spark] =
        Layout::horizontal([Constraint::Length(10), Constraint::Min(1)]).areas(spark_area);
    f.render_widget(Paragraph::new(Line::from(lbl("sentiment "))), spark_label);
    if c.sentiment_trend.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no data", t.get("ui.text.dim"))),
            spark,
        );
    } else {
        let data: Vec<u64> = c
            .sentiment_trend
            .iter()
            .map(|s| ((s.clamp(-1.0, 1.0) + 1.0) * 50.0).round() as u64)
            .collect();
        // The most recent values, as many as fit.
        let start = data.len().saturating_sub(spark.width as usize);
        f.render_widget(
            Sparkline::default()
                .data(data[start..].to_vec())
                .max(100)
                .style(t.get("profile.sparkline")),
            spark,
        );
    }
}

/// Preferences, consents, contact details and tags.
fn details_lines(m: &Model, c: &Customer, w: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let val = |s: String| Span::styled(s, t.get("profile.value"));
    let mut lines: Vec<Line> = Vec::new();
    let prefs = &c.preferences;
    lines.push(Line::from(vec![
        lbl("Prefers "),
        val(prefs.preferred_channel.to_string()),
        lbl(" · lang "),
        val(prefs.language.clone()),
    ]));
    let consents = [
        ("email", prefs.consents.email),
        ("sms", prefs.consents.sms),
        ("whatsapp", prefs.consents.whatsapp),
        ("dm", prefs.consents.social_dm),
    ]
    .map(|(what, given)| format!("{what} {}", yes(given)));
    for (label, text) in wrap_items("Consents ", &consents, " ", w) {
        lines.push(Line::from(vec![lbl(&label), val(text)]));
    }
    let contact: Vec<String> = c.emails.iter().chain(c.phones.iter()).cloned().collect();
    for (label, text) in wrap_items("Contact ", &contact, " · ", w) {
        lines.push(Line::from(vec![lbl(&label), val(text)]));
    }
    if !c.tags.is_empty() {
        lines.push(Line::from(vec![lbl("Tags "), val(c.tags.join(", "))]));
    }
    lines
}

/// The social identities linked to the customer.
fn identity_lines(m: &Model, c: &Customer) -> Vec<Line<'static>> {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let val = |s: String| Span::styled(s, t.get("profile.value"));
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(
        "Identities",
        t.get("ui.help.section"),
    )));
    if c.identities.is_empty() {
        lines.push(Line::from(Span::styled(
            "  none linked",
            t.get("ui.text.dim"),
        )));
    }
    for i in &c.identities {
        lines.push(Line::from(vec![
            Span::raw("  "),
            lbl(&format!("{:<9} ", i.network.as_str())),
            val(format!(
                "{}{}",
                handle_label(i.network, &i.handle),
                if i.verified { " ✓" } else { "" }
            )),
        ]));
    }
    lines
}

/// The five most recent transactions.
fn transaction_lines(m: &Model, v: &CustomerView, w: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let val = |s: String| Span::styled(s, t.get("profile.value"));
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(
        "Transactions",
        t.get("ui.help.section"),
    )));
    match &v.transactions {
        Load::Loading => lines.push(Line::from(Span::styled("  loading…", t.get("ui.text.dim")))),
        Load::Failed(e) => lines.push(Line::from(Span::styled(
            format!("  unavailable: {e}"),
            t.get("profile.error"),
        ))),
        Load::Loaded(list) if list.is_empty() => {
            lines.push(Line::from(Span::styled("  none", t.get("ui.text.dim"))))
        }
        Load::Loaded(list) => {
            let mut list: Vec<&Transaction> = list.iter().collect();
            list.sort_by_key(|tr| std::cmp::Reverse(tr.occurred_at));
            for tr in list.into_iter().take(5) {
                let amount = format!("{} {}", tr.amount.amount, tr.amount.currency);
                let left = format!(
                    "  {} {} {} ",
                    tr.occurred_at.format("%m-%d"),
                    tr.kind,
                    tr.reference
                );
                let room = w.saturating_sub(left.chars().count() + amount.len() + 1);
                lines.push(Line::from(vec![
                    lbl(&left),
                    val(format!(
                        "{:<room$} ",
                        truncate_to_width(&tr.description, room)
                    )),
                    val(amount),
                ]));
            }
        }
    }
    lines
}

/// The twenty most recent interactions.
fn history_lines(m: &Model, v: &CustomerView, w: usize) -> Vec<Line<'static>> {
    let t = &m.theme;
    let lbl = |s: &str| Span::styled(s.to_string(), t.get("profile.label"));
    let val = |s: String| Span::styled(s, t.get("profile.value"));
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(
        "History",
        t.get("ui.help.section"),
    )));
    match &v.history {
        Load::Loading => lines.push(Line::from(Span::styled("  loading…", t.get("ui.text.dim")))),
        Load::Failed(e) => lines.push(Line::from(Span::styled(
            format!("  unavailable: {e}"),
            t.get("profile.error"),
        ))),
        Load::Loaded(list) if list.is_empty() => lines.push(Line::from(Span::styled(
            "  no earlier interactions",
            t.get("ui.text.dim"),
        ))),
        Load::Loaded(list) => {
            let mut list: Vec<&HistoryEntry> = list.iter().collect();
            list.sort_by_key(|h| std::cmp::Reverse(h.at));
            for h in list.into_iter().take(20) {
                let left = format!(
                    "  {} {:<8} {:<8} ",
                    h.at.format("%m-%d"),
                    h.channel.as_str(),
                    h.kind.as_str()
                );
                let room = w.saturating_sub(left.chars().count());
                lines.push(Line::from(vec![
                    lbl(&left),
                    val(truncate_to_width(&one_line(&h.summary), room)),
                ]));
            }
        }
    }
    lines
}

/// Lays `items` out after `label`, joined by `sep`, as many per line as fit in `width`; the
/// lines after the first are indented under the label. A narrow pane (80 columns) gets more
/// lines instead of a cut-off phone number. Gives (label or indent, text) per line.
fn wrap_items(label: &str, items: &[String], sep: &str, width: usize) -> Vec<(String, String)> {
    let indent = " ".repeat(UnicodeWidthStr::width(label));
    let room = width.saturating_sub(indent.len()).max(1);
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some((_, line))
                if UnicodeWidthStr::width(line.as_str())
                    + UnicodeWidthStr::width(sep)
                    + UnicodeWidthStr::width(item.as_str())
                    <= room =>
            {
                line.push_str(sep);
                line.push_str(item);
            }
            _ => {
                let head = if out.is_empty() { label } else { &indent };
                out.push((head.to_string(), item.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap_items;

    #[test]
    fn items_fill_lines_and_continue_under_the_label() {
        let items: Vec<String> = ["ada@example.com", "+44 20 7946 0958", "+44 7700 900123"]
            .map(String::from)
            .to_vec();
        let wide = wrap_items("Contact ", &items, " · ", 80);
        assert_eq!(wide.len(), 1);
        assert_eq!(
            wide[0].1,
            "ada@example.com · +44 20 7946 0958 · +44 7700 900123"
        );
        let narrow = wrap_items("Contact ", &items, " · ", 30);
        assert_eq!(
            narrow,
            vec![
                ("Contact ".to_string(), "ada@example.com".to_string()),
                ("        ".to_string(), "+44 20 7946 0958".to_string()),
                ("        ".to_string(), "+44 7700 900123".to_string()),
            ]
        );
        assert!(wrap_items("Contact ", &[], " · ", 30).is_empty());
    }
}
