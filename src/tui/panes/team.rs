//! The Team screen: the team's measures drawn as a supervisor reads them. Response-time
//! sparklines per department, SLA gauges, the breached list (Enter opens the selected item),
//! agents with their load and availability, sentiment per channel and the linked-identity share.
//! Every figure is also written as text, so nothing depends on colour (mono, 16 colours).

use super::frame::{pane_block, short_duration};
use crate::domain::metrics::{MetricsSummary, MetricsWindow};
use crate::domain::Availability;
use crate::text::truncate_to_width;
use crate::tui::model::{Load, Model};
use crate::tui::team::TeamView;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Gauge, Paragraph, Sparkline};
use ratatui::Frame;

pub fn render(f: &mut Frame, area: Rect, m: &Model, team: &TeamView) {
    let block = pane_block(m, format!("Team · {}", window_name(team.window)), true);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let s = match &team.summary {
        Load::Loaded(s) => s,
        Load::Failed(e) => {
            let text = format!("the team's figures could not be loaded: {e}");
            f.render_widget(
                Paragraph::new(text).style(m.theme.get("profile.error")),
                inner,
            );
            return;
        }
        _ => {
            f.render_widget(
                Paragraph::new("loading the team's figures…").style(m.theme.get("ui.text.dim")),
                inner,
            );
            return;
        }
    };
    let tall = inner.height >= 30;
    let [head, top, volume, middle, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if tall { 9 } else { 7 }),
        Constraint::Length(if tall { 6 } else { 0 }),
        Constraint::Min(4),
        Constraint::Length(if tall { 9 } else { 6 }),
    ])
    .areas(inner);
    header(f, head, m, s);
    if volume.height > 0 {
        arrivals(f, volume, m, s);
    }
    let [trend, sla] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    response_trend(f, trend, m, s);
    sla_gauges(f, sla, m, s);
    let [breached, agents] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(middle);
    breached_list(f, breached, m, s, team.selected);
    agent_loads(f, agents, m, s);
    let [sentiment, people] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(bottom);
    sentiment_bars(f, sentiment, m, s);
    customers(f, people, m, s);
}

fn window_name(w: MetricsWindow) -> &'static str {
    match w {
        MetricsWindow::Hour => "last hour",
        MetricsWindow::Day => "last 24 hours",
        MetricsWindow::Week => "last 7 days",
        MetricsWindow::Month => "last 30 days",
    }
}

/// A duration as people say it: "45s", "12m", "3h", "2d" (two units when it helps: "1h05").
fn took(secs: Option<i64>) -> String {
    match secs {
        None => "–".into(),
        Some(s) if s < 60 => format!("{s}s"),
        Some(s) if (3_600..36_000).contains(&s) => format!("{}h{:02}", s / 3_600, s % 3_600 / 60),
        Some(s) => short_duration(s),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or("–".into(), |x| format!("{:.0}%", x * 100.0))
}

fn header(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let line = Line::from(vec![
        Span::styled("first reply ", t.get("profile.label")),
        Span::styled(
            format!(
                "p50 {} p90 {} ({})",
                took(s.first_response.p50_secs),
                took(s.first_response.p90_secs),
                s.first_response.count
            ),
            t.get("profile.value"),
        ),
        Span::styled(" · resolved ", t.get("profile.label")),
        Span::styled(
            format!(
                "p50 {} ({})",
                took(s.resolution.p50_secs),
                s.resolution.count
            ),
            t.get("profile.value"),
        ),
        Span::styled(
            format!(
                " · in {} out {}",
                s.volume.iter().map(|v| v.inbound).sum::<u64>(),
                s.volume.iter().map(|v| v.replies).sum::<u64>()
            ),
            t.get("profile.label"),
        ),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

/// One line per department: name, the median first reply per slice, the window's p50.
fn response_trend(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let block = pane_block(m, "First reply p50 by department (log scale)", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let name_w = 10u16.min(inner.width / 3);
    let value_w = 6u16;
    for (row, trend) in s.response_trend.iter().enumerate() {
        let Some(y) = inner
            .y
            .checked_add(row as u16)
            .filter(|y| *y < inner.bottom())
        else {
            break;
        };
        let group = s.by_department.iter().find(|g| g.key == trend.department);
        let name = group.map_or(trend.department.as_str(), |g| g.name.as_str());
        let line = Rect::new(inner.x, y, inner.width, 1);
        let [label, spark, value] = Layout::horizontal([
            Constraint::Length(name_w + 1),
            Constraint::Min(1),
            Constraint::Length(value_w),
        ])
        .areas(line);
        f.render_widget(
            Paragraph::new(truncate_to_width(name, name_w as usize)).style(t.get("profile.label")),
            label,
        );
        // Newest slices at the right, as many as fit; a log scale keeps minutes visible next
        // to hours.
        let data: Vec<u64> = trend
            .p50_secs
            .iter()
            .map(|v| v.map_or(0, |s| ((s.max(0) as f64).ln_1p() * 100.0) as u64))
            .collect();
        let from = data.len().saturating_sub(spark.width as usize);
        f.render_widget(
            Sparkline::default()
                .data(&data[from..])
                .style(t.get("profile.sparkline")),
            spark,
        );
        let p50 = group.and_then(|g| g.first_response.p50_secs);
        f.render_widget(
            Paragraph::new(format!(" {:>5}", took(p50))).style(t.get("profile.value")),
            value,
        );
    }
}

/// Arrivals per hour over the window (newest at the right), with replies out as text.
fn arrivals(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let peak = s.volume.iter().map(|v| v.inbound).max().unwrap_or(0);
    let block = pane_block(m, format!("Arrivals per hour (peak {peak})"), false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let data: Vec<u64> = s.volume.iter().map(|v| v.inbound).collect();
    let from = data.len().saturating_sub(inner.width as usize);
    f.render_widget(
        Sparkline::default()
            .data(&data[from..])
            .style(t.get("profile.sparkline")),
        inner,
    );
}

fn sla_gauges(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let block = pane_block(m, "SLA", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let sla = &s.sla;
    let counts = Line::from(vec![
        Span::styled(format!("open {} ", sla.open), t.get("profile.value")),
        Span::styled(
            format!("late {}", sla.breached_now),
            if sla.breached_now > 0 {
                t.get("sla.overdue")
            } else {
                t.get("sla.ok")
            },
        ),
        Span::styled(
            format!(" <1h {} <4h {}", sla.due_within_1h, sla.due_within_4h),
            t.get("sla.soon"),
        ),
    ]);
    let linked = s.linked.last();
    let gauges = [
        ("on time", sla.breach_share.map(|b| 1.0 - b)),
        ("linked ids", linked.and_then(|l| l.identities)),
        ("linked items", linked.and_then(|l| l.feedback)),
    ];
    let rows = Layout::vertical([Constraint::Length(1); 4]).split(inner);
    f.render_widget(Paragraph::new(counts), rows[0]);
    for (i, (name, share)) in gauges.iter().enumerate() {
        let Some(row) = rows.get(i + 1) else { break };
        let [label, gauge] =
            Layout::horizontal([Constraint::Length(13), Constraint::Min(4)]).areas(*row);
        f.render_widget(Paragraph::new(*name).style(t.get("profile.label")), label);
        f.render_widget(
            Gauge::default()
                .ratio(share.unwrap_or(0.0).clamp(0.0, 1.0))
                .label(percent(*share))
                .use_unicode(true)
                .gauge_style(t.get("team.gauge")),
            gauge,
        );
    }
}

fn breached_list(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary, selected: usize) {
    let t = &m.theme;
    let title = format!("Breached now ({}) · Enter opens", s.sla.breached_now);
    let block = pane_block(m, title, false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if s.sla.breached.is_empty() {
        f.render_widget(
            Paragraph::new("nothing is past due").style(t.get("ui.text.dim")),
            inner,
        );
        return;
    }
    let rows = inner.height as usize;
    let top = selected.saturating_sub(rows.saturating_sub(1));
    let width = inner.width as usize;
    let lines: Vec<Line> = s
        .sla
        .breached
        .iter()
        .enumerate()
        .skip(top)
        .take(rows)
        .map(|(i, b)| {
            let over = (s.generated_at - b.sla_due_at).num_seconds();
            let mark = if i == selected { "▶" } else { " " };
            let text = format!(
                "{mark}{:>4} {:<8} {} {}",
                short_duration(over),
                truncate_to_width(&b.department, 8),
                truncate_to_width(&b.author_handle, 14),
                b.excerpt
            );
            let style = if i == selected {
                t.get("ui.selection")
            } else {
                t.get("sla.overdue")
            };
            Line::styled(truncate_to_width(&text, width).to_string(), style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn agent_loads(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let block = pane_block(m, "Agents · open (late)", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let name_w = (inner.width as usize).saturating_sub(16).clamp(4, 20);
    let lines: Vec<Line> = s
        .agents
        .iter()
        .take(inner.height as usize)
        .map(|a| {
            let (state, style) = match a.availability {
                Availability::Available => ("●", t.get("status.connected")),
                Availability::Away => ("○ away", t.get("ui.text.dim")),
            };
            Line::from(vec![
                Span::styled(
                    format!("{:<w$} ", truncate_to_width(&a.name, name_w), w = name_w),
                    t.get("profile.value"),
                ),
                Span::styled(format!("{:>3}", a.open), t.get("profile.value")),
                Span::styled(
                    format!(" ({}) ", a.breached),
                    if a.breached > 0 {
                        t.get("sla.overdue")
                    } else {
                        t.get("sla.ok")
                    },
                ),
                Span::styled(state, style),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

/// The share of negative items per channel over the window, as bars (the tone's mean below).
fn sentiment_bars(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let block = pane_block(m, "Negative share by channel, %", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut channels: Vec<(crate::domain::Channel, u64, u64, f64)> = Vec::new();
    for d in &s.sentiment {
        let n = d.negative + d.neutral + d.positive;
        let sum = d.mean.unwrap_or(0.0) * n as f64;
        match channels.iter_mut().find(|c| c.0 == d.channel) {
            Some(c) => {
                c.1 += d.negative;
                c.2 += n;
                c.3 += sum;
            }
            None => channels.push((d.channel, d.negative, n, sum)),
        }
    }
    if channels.is_empty() {
        f.render_widget(
            Paragraph::new("no feedback in the window").style(t.get("ui.text.dim")),
            inner,
        );
        return;
    }
    let bars: Vec<Bar> = channels
        .iter()
        .map(|(channel, negative, n, _)| {
            let pct = (*negative * 100).checked_div(*n).unwrap_or(0);
            Bar::default()
                .value(pct)
                .text_value(format!("{pct}"))
                .label(Line::from(
                    truncate_to_width(channel.as_str(), 6).to_string(),
                ))
                .style(t.get("sentiment.negative"))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(6)
            .bar_gap(1)
            .max(100)
            .value_style(t.get("ui.statusbar.mode")),
        inner,
    );
}

/// The window's most active detractors and helpers.
fn customers(f: &mut Frame, area: Rect, m: &Model, s: &MetricsSummary) {
    let t = &m.theme;
    let block = pane_block(m, "Detractors · helpers", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    for (mark, list, style) in [
        ("−", &s.detractors, t.get("sentiment.negative")),
        ("+", &s.helpers, t.get("sentiment.positive")),
    ] {
        for c in list {
            lines.push(Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::styled(format!("{} ({})", c.name, c.items), t.get("profile.value")),
            ]));
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled(
            "none active in the window",
            t.get("ui.text.dim"),
        ));
    }
    lines.truncate(inner.height as usize);
    f.render_widget(Paragraph::new(lines), inner);
}
