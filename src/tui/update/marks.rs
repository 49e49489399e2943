use crate::domain::{Feedback, Visibility};
use crate::tui::lint::{LintContext, MarkLevel, ViolationMark};
use crate::tui::model::*;
use crate::tui::theme::Theme;

pub fn style_composer(c: &mut Composer, theme: &Theme) {
    for part in [Visibility::Public, Visibility::Direct] {
        let ta = c.area_mut(part);
        ta.set_style(theme.get("ui.text"));
        // The terminal's own cursor marks where typing goes (panes::composer places it), as in
        // the command line: a drawn cursor cell costs a restyled cell on every keystroke, so
        // the cell under the cursor looks like the text around it.
        ta.set_cursor_style(theme.get("ui.text"));
        ta.set_placeholder_style(theme.get("ui.text.dim"));
        ta.set_selection_style(theme.get("ui.selection"));
    }
}

/// What the rule engine needs to know about the selected item.
pub(crate) fn lint_context(m: &Model) -> LintContext {
    lint_context_for(m, m.composer_item())
}

/// What the rule engine needs to know about an item (its customer when loaded).
pub(crate) fn lint_context_for(m: &Model, fb: Option<&Feedback>) -> LintContext {
    let cust = fb
        .and_then(|f| {
            f.customer_id
                .clone()
                .or_else(|| f.author.customer_id.clone())
        })
        .and_then(|id| m.customer(&id).cloned());
    LintContext {
        channel: fb.map(|f| f.channel),
        tier: cust.as_ref().map(|c| c.tier.clone()),
        department: fb.map(|f| f.department.clone()),
        tags: cust.as_ref().map(|c| c.tags.clone()).unwrap_or_default(),
        language: cust.as_ref().map(|c| c.preferences.language.clone()),
        sentiment: fb.map(|f| f.sentiment),
    }
}

/// Re-check the draft and mark violations in the text areas.
pub fn relint(m: &mut Model) {
    let ctx = lint_context(m);
    let Some(c) = m.composer.as_mut() else { return };
    c.violations = match &m.rules {
        Some(r) => {
            let parts: Vec<(Visibility, String)> =
                c.kind.parts().iter().map(|p| (*p, c.text(*p))).collect();
            r.check(&parts, &ctx)
        }
        None => Vec::new(),
    };
    mark_violations(c, &m.theme);
}

/// Underline violating text: the text area highlights matches of a search pattern, so the
/// pattern is the escaped text of each violation in that part.
pub(crate) fn mark_violations(c: &mut Composer, theme: &Theme) {
    for part in [Visibility::Public, Visibility::Direct] {
        let text = c.text(part);
        let marks: Vec<&ViolationMark> = c.violations.iter().filter(|v| v.part == part).collect();
        let pats: Vec<String> = marks
            .iter()
            .filter_map(|v| text.get(v.start..v.end))
            .filter(|s| !s.is_empty())
            .map(regex::escape)
            .collect();
        let level = marks
            .iter()
            .map(|v| v.level)
            .max()
            .unwrap_or(MarkLevel::Info);
        let ta = c.area_mut(part);
        ta.set_search_style(theme.get(level.scope()));
        let _ = ta.set_search_pattern(pats.join("|"));
    }
}

/// Violations of the server's 422 rule refusal (typed by the client), as the composer marks them.
pub(crate) fn server_violations(
    problem: &crate::domain::problem::ServerProblem,
) -> Vec<ViolationMark> {
    use crate::domain::problem::ProblemExtension;
    use crate::domain::verdict::Level as RuleLevel;
    let ProblemExtension::RuleViolation(r) = &problem.extension else {
        return vec![];
    };
    r.violations
        .iter()
        .map(|v| ViolationMark {
            rule: v.rule.clone(),
            level: match v.level {
                RuleLevel::Error => MarkLevel::Error,
                RuleLevel::Warning => MarkLevel::Warning,
                RuleLevel::Info => MarkLevel::Info,
            },
            message: v.message.clone(),
            part: v.part,
            start: v.start,
            end: v.end,
            fix: v.fix.clone(),
        })
        .collect()
}

/// The server's rulebook arrived (or could not be loaded: the server still checks).
pub(crate) fn on_rules(
    m: &mut Model,
    result: Result<std::sync::Arc<crate::tui::lint::CompiledRules>, String>,
) -> Vec<crate::tui::effect::Effect> {
    match result {
        Ok(rules) => {
            m.rules = Some(rules);
            relint(m);
            m.dirty = true;
        }
        Err(e) => m.set_status(
            Level::Warning,
            format!("rulebook not loaded, the server still checks: {e}"),
        ),
    }
    vec![]
}
