//! The team's measures on a scripted organisation: items received, answered, resolved and
//! breached at known instants (the store's clock is set before each step), then
//! `GET /v1/metrics/summary` asserted figure by figure, and `GET /metrics` parsed by an
//! independent Prometheus parser. Runs on both stores (EARSHOT_TEST_STORE=postgres).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use earshot::domain::metrics::*;
use earshot::domain::*;
use earshot::server::store::{Clock, DepartmentScope, Dialect, NewAgent};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SUE: &str = "tok_sue_support_supervisor";

/// Every item is normal priority, due two hours after it came; "invoice" goes to billing.
const ROUTING: &str = r#"
default_department = "support"
[sla_hours]
urgent = 1
high = 4
normal = 2
low = 72
[escalation]
sla_hours = 1
[[route]]
department = "billing"
keywords = ["invoice"]
"#;

/// The start of the 24-hour window the summary is asked for at `S + 24 h`.
fn s() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    s() + Duration::minutes(minutes)
}

struct Org {
    server: TestServer,
    clock: Clock,
    _routing: tempfile::NamedTempFile,
    /// The scripted items, i0..i7 (index = name).
    items: Vec<String>,
}

impl Org {
    fn now(&self, minutes: i64) {
        self.clock.set(at(minutes));
    }

    /// Takes in an item received now (by the clock), assigns it and corrects its tone.
    async fn intake(&mut self, channel: &str, handle: &str, text: &str, agent: &str, tone: &str) {
        let received = self.clock.now_micros();
        let r = self
            .server
            .post(
                "/v1/feedback",
                SAM,
                json!({ "channel": channel, "author_handle": handle, "text": text,
                        "received_at": earshot::server::store::micros_to_time(received) }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let version = r.body["version"].as_i64().unwrap().to_string();
        let p = self
            .server
            .call(
                Method::PATCH,
                &format!("/v1/feedback/{id}"),
                Some(SAM),
                Some(json!({ "assignee": agent, "sentiment_label": tone })),
                &[("If-Match", &version)],
            )
            .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        self.items.push(id);
    }

    async fn reply(&self, item: usize, token: &str, visibility: &str) {
        let id = &self.items[item];
        let r = self
            .server
            .reply(
                id,
                token,
                &format!("reply-{item}"),
                json!({"parts": [{"visibility": visibility, "body": "Thank you, we are looking into this now."}]}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }

    async fn resolve(&self, item: usize, token: &str) {
        self.patch(item, token, json!({ "status": "resolved" }))
            .await;
    }

    /// Links the author of item `item` to `customer`, as `token`.
    async fn link_author(&self, item: usize, token: &str, customer: &str) {
        let current = self
            .server
            .get(&format!("/v1/feedback/{}", self.items[item]), token)
            .await;
        let author = current.body["feedback"]["author"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let link = self
            .server
            .post(
                &format!("/v1/identities/{author}/link"),
                token,
                json!({ "customer_id": customer }),
            )
            .await;
        assert!(link.status.is_success(), "{}", link.body);
    }

    /// Changes item `item` as `token` (at its current version).
    async fn patch(&self, item: usize, token: &str, body: Value) {
        let id = &self.items[item];
        let current = self.server.get(&format!("/v1/feedback/{id}"), token).await;
        let version = current.body["feedback"]["version"]
            .as_i64()
            .unwrap()
            .to_string();
        let p = self
            .server
            .call(
                Method::PATCH,
                &format!("/v1/feedback/{id}"),
                Some(token),
                Some(body),
                &[("If-Match", &version)],
            )
            .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    }

    async fn summary(&self, token: &str, query: &str) -> MetricsSummary {
        let r = self
            .server
            .get(&format!("/v1/metrics/summary{query}"), token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        serde_json::from_value(r.body).expect("a summary")
    }
}

/// The organisation of the harness plus Sue (support's supervisor, away), with these items
/// (minutes after S; every item due 2 h after it came):
///
/// | item | dept | channel | author | came | agent | tone | replied | resolved |
/// |---|---|---|---|---|---|---|---|---|
/// | i0 | support | x | @ann | -600 | alice | negative | +30 | |
/// | i1 | support | x | @ann | +60 | alice | negative | +70 | +190 |
/// | i2 | support | x | @newbie (linked to Ben at +400) | +120 | jonas | neutral | +300 (late) | |
/// | i3 | support | email | ann@example.com (linked by address) | +600 | alice | positive | +630 | +700 |
/// | i4 | billing | x | @ben | +900 | bilal | negative | +960 | |
/// | i5 | support | x | @stranger | +1300 | jonas | negative | | |
/// | i6 | support | x | @ann | +1350 | alice | negative | | |
/// | i7 | billing | facebook | cat.tester | +1400 | bilal | neutral | | |
async fn scripted() -> Org {
    let clock = Clock::manual(s() - Duration::days(1));
    let routing = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(routing.path(), ROUTING).unwrap();
    let path = routing.path().to_path_buf();
    let c = clock.clone();
    let server = start_with(test_db().await, move |config| {
        config.clock = c;
        config.routing = Some(path);
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    server
        .store()
        .add_agent_with_token(
            "ag_sue",
            NewAgent {
                name: "Sue",
                role: AgentRole::Supervisor,
                departments: &["support".to_string()],
                scopes: None,
            },
            SUE,
        )
        .await
        .unwrap();
    let away = server
        .call(
            Method::PATCH,
            "/v1/me",
            Some(SUE),
            Some(json!({"availability": "away"})),
            &[],
        )
        .await;
    assert_eq!(away.status, StatusCode::OK, "{}", away.body);
    let mut org = Org {
        server,
        clock,
        _routing: routing,
        items: Vec::new(),
    };
    org.now(-600);
    org.intake(
        "x",
        "@ann",
        "The kettle stopped working",
        "ag_alice",
        "negative",
    )
    .await;
    org.now(30);
    org.reply(0, ALICE, "public").await;
    org.now(60);
    org.intake("x", "@ann", "Still no kettle", "ag_alice", "negative")
        .await;
    org.now(70);
    org.reply(1, ALICE, "public").await;
    org.now(120);
    org.intake(
        "x",
        "@newbie",
        "Where is the manual?",
        "ag_jonas",
        "neutral",
    )
    .await;
    org.now(190);
    org.resolve(1, ALICE).await;
    org.now(300);
    org.reply(2, JONAS, "public").await;
    org.now(400);
    org.link_author(2, JONAS, "cu_ben").await;
    org.now(600);
    org.intake(
        "email",
        "ann@example.com",
        "Lovely service, thanks",
        "ag_alice",
        "positive",
    )
    .await;
    org.now(630);
    org.reply(3, ALICE, "direct").await;
    org.now(700);
    org.resolve(3, ALICE).await;
    org.now(900);
    org.intake("x", "@ben", "My invoice is wrong", "ag_bilal", "negative")
        .await;
    org.now(960);
    org.reply(4, BILAL, "public").await;
    org.now(1300);
    org.intake(
        "x",
        "@stranger",
        "Nobody answers here",
        "ag_jonas",
        "negative",
    )
    .await;
    org.now(1350);
    org.intake("x", "@ann", "Third time I write", "ag_alice", "negative")
        .await;
    org.now(1400);
    org.intake(
        "facebook",
        "cat.tester",
        "A question on my invoice",
        "ag_bilal",
        "neutral",
    )
    .await;
    org.now(1440);
    org
}

fn latency(count: u64, p50: Option<i64>, p90: Option<i64>) -> Latency {
    Latency {
        count,
        p50_secs: p50,
        p90_secs: p90,
    }
}

fn group<'a>(groups: &'a [GroupLatency], key: &str) -> &'a GroupLatency {
    groups
        .iter()
        .find(|g| g.key == key)
        .unwrap_or_else(|| panic!("no group {key} in {groups:?}"))
}

#[tokio::test]
async fn the_measures_of_a_scripted_day() {
    let org = scripted().await;
    let m = org.summary(SAM, "?window=24h").await;
    assert_eq!(m.since, s());
    assert_eq!(m.generated_at, at(1440));
    // First replies in the window: i0 37,800 s, i1 600, i2 10,800, i3 1,800, i4 3,600.
    assert_eq!(m.first_response, latency(5, Some(3_600), Some(37_800)));
    // Resolutions: i1 7,800 s, i3 6,000.
    assert_eq!(m.resolution, latency(2, Some(6_000), Some(7_800)));
    let support = group(&m.by_department, "support");
    assert_eq!(support.name, "Support");
    assert_eq!(
        support.first_response,
        latency(4, Some(1_800), Some(37_800))
    );
    assert_eq!(support.resolution, latency(2, Some(6_000), Some(7_800)));
    let billing = group(&m.by_department, "billing");
    assert_eq!(billing.first_response, latency(1, Some(3_600), Some(3_600)));
    assert_eq!(billing.resolution, latency(0, None, None));
    let ids: Vec<&str> = m.by_department.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(ids, ["billing", "finance", "shipping", "social", "support"]);
    let alice = group(&m.by_agent, "ag_alice");
    assert_eq!(alice.name, "Alice");
    assert_eq!(alice.first_response, latency(3, Some(1_800), Some(37_800)));
    assert_eq!(alice.resolution, latency(2, Some(6_000), Some(7_800)));
    assert_eq!(
        group(&m.by_agent, "ag_jonas").first_response,
        latency(1, Some(10_800), Some(10_800))
    );
    assert_eq!(
        group(&m.by_agent, "ag_bilal").first_response,
        latency(1, Some(3_600), Some(3_600))
    );
    assert_eq!(m.by_agent.len(), 3);
    let x = group(&m.by_channel, "x");
    assert_eq!(x.first_response, latency(4, Some(3_600), Some(37_800)));
    assert_eq!(x.resolution, latency(1, Some(7_800), Some(7_800)));
    assert_eq!(
        group(&m.by_channel, "email").resolution,
        latency(1, Some(6_000), Some(6_000))
    );
    assert_eq!(m.by_channel.len(), 2);
    // Hourly slices: support's first replies in slices 0, 1, 5 and 10; billing's in 16.
    assert_eq!(m.trend_slice_secs, 3_600);
    let trend = |d: &str| {
        m.response_trend
            .iter()
            .find(|t| t.department == d)
            .unwrap()
            .p50_secs
            .clone()
    };
    let mut expected = vec![None; 24];
    for (slice, secs) in [(0, 37_800), (1, 600), (5, 10_800), (10, 1_800)] {
        expected[slice] = Some(secs);
    }
    assert_eq!(trend("support"), expected);
    let mut expected = vec![None; 24];
    expected[16] = Some(3_600);
    assert_eq!(trend("billing"), expected);

    // Awaiting an answer at S+24h: i5 (due +1420, breached), i6 (due +1470), i7 (due +1520).
    assert_eq!(m.sla.open, 3);
    assert_eq!(m.sla.breached_now, 1);
    assert_eq!(m.sla.due_within_1h, 1);
    assert_eq!(m.sla.due_within_4h, 1);
    assert_eq!(m.sla.due_later, 0);
    // Due in the window: i1, i2 (answered late), i3, i4, i5 (not answered).
    assert_eq!(m.sla.breach_share, Some(0.4));
    assert_eq!(m.sla.breached.len(), 1);
    let b = &m.sla.breached[0];
    assert_eq!(b.feedback_id, org.items[5]);
    assert_eq!(
        (b.department.as_str(), b.assignee.as_deref()),
        ("support", Some("ag_jonas"))
    );
    assert_eq!((b.channel, b.priority), (Channel::X, Priority::Normal));
    assert_eq!(b.sla_due_at, at(1420));
    assert_eq!(b.author_handle, "@stranger");
    assert_eq!(b.excerpt, "Nobody answers here");

    let queue: Vec<(FeedbackStatus, Priority, u64)> = m
        .queue
        .iter()
        .map(|q| (q.status, q.priority, q.count))
        .collect();
    assert_eq!(
        queue,
        [
            (FeedbackStatus::New, Priority::Normal, 3),
            (FeedbackStatus::Answered, Priority::Normal, 3)
        ]
    );

    assert_eq!(m.volume.len(), 24);
    assert_eq!(m.volume[0].hour, s());
    assert_eq!(m.volume[23].hour, at(23 * 60));
    let hours = |f: fn(&HourVolume) -> u64| -> Vec<(usize, u64)> {
        m.volume
            .iter()
            .enumerate()
            .filter(|(_, v)| f(v) > 0)
            .map(|(h, v)| (h, f(v)))
            .collect()
    };
    assert_eq!(
        hours(|v| v.inbound),
        [(1, 1), (2, 1), (10, 1), (15, 1), (21, 1), (22, 1), (23, 1)]
    );
    assert_eq!(
        hours(|v| v.replies),
        [(0, 1), (1, 1), (5, 1), (10, 1), (16, 1)]
    );

    // Identities: the harness's four (three linked) first seen at S-1d, @newbie (+120, linked
    // +400) and ann@example.com (+600, linked by address).
    assert_eq!(m.linked.len(), 1);
    assert_eq!(m.linked[0].at, at(1440));
    assert_eq!(m.linked[0].identities, Some(5.0 / 6.0));
    // Items of the day: all but @stranger's are linked now.
    assert_eq!(m.linked[0].feedback, Some(6.0 / 7.0));

    let sentiment: Vec<(Channel, u64, u64, u64, Option<f64>)> = m
        .sentiment
        .iter()
        .map(|d| {
            assert_eq!(d.day, s());
            (d.channel, d.negative, d.neutral, d.positive, d.mean)
        })
        .collect();
    assert_eq!(
        sentiment,
        [
            (Channel::X, 4, 1, 0, Some(-0.8)),
            (Channel::Facebook, 0, 1, 0, Some(0.0)),
            (Channel::Email, 0, 0, 1, Some(1.0)),
        ]
    );

    // Ann wrote three negative public posts (i0, i1, i6): a detractor, with i1, i3, i6 today.
    let detractors: Vec<(&str, &str, u64)> = m
        .detractors
        .iter()
        .map(|c| (c.customer_id.as_str(), c.name.as_str(), c.items))
        .collect();
    assert_eq!(detractors, [("cu_ann", "Ann Tester", 3)]);
    assert!(m.helpers.is_empty());

    let agents: Vec<(&str, Availability, u64, u64)> = m
        .agents
        .iter()
        .map(|a| (a.agent_id.as_str(), a.availability, a.open, a.breached))
        .collect();
    assert_eq!(
        agents,
        [
            ("ag_alice", Availability::Available, 1, 0),
            ("ag_bilal", Availability::Available, 1, 0),
            ("ag_jonas", Availability::Available, 1, 1),
            ("ag_sue", Availability::Away, 0, 0),
        ]
    );
    org.server.stop().await;
}

/// The breached list reads the awaiting items in due order and stops at its 50: on SQLite no
/// step sorts them (the temporary B-tree that took seconds over a backlog of 200,000 overdue
/// items), one walk per department of a supervisor's scope, merged.
#[tokio::test]
async fn the_breached_list_walks_an_index_in_due_order() {
    let org = scripted().await;
    let store = org.server.store();
    let three = DepartmentScope::only(&["support".into(), "billing".into(), "shipping".into()]);
    let agent = MetricsQuery {
        agent: Some("ag_jonas".into()),
        ..Default::default()
    };
    let cases = [
        (
            MetricsQuery::default(),
            DepartmentScope::All,
            "feedback_awaiting ",
            1,
        ),
        (
            MetricsQuery::default(),
            three,
            "feedback_awaiting_department ",
            3,
        ),
        (
            agent,
            DepartmentScope::All,
            "feedback_awaiting_assignee ",
            1,
        ),
    ];
    for (q, scope, index, walks) in cases {
        let plan = store.explain_breached(&q, &scope).await.unwrap();
        if store.dialect() == Dialect::Sqlite {
            assert_eq!(plan.matches(index).count(), walks, "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
    org.server.stop().await;
}

/// SQLite's tally of items (migration 0010's triggers) holds what the items hold after every
/// kind of write the scripted day makes: intake, assignment, the group-committed replies,
/// resolution.
#[tokio::test]
async fn the_tally_counts_what_the_items_hold() {
    use sqlx::Connection;
    let org = scripted().await;
    if org.server.store().dialect() != Dialect::Sqlite {
        org.server.stop().await;
        return;
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", org.server.db.url))
        .await
        .unwrap();
    type Row = (String, String, String, String, String, i64);
    let tally: Vec<Row> = sqlx::query_as(
        "SELECT department, assignee, channel, status, priority, n FROM feedback_tally \
         WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let items: Vec<Row> = sqlx::query_as(
        "SELECT department, COALESCE(assignee, ''), channel, status, priority, COUNT(*) \
         FROM feedback GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!items.is_empty());
    assert_eq!(tally, items);
    conn.close().await.unwrap();
    org.server.stop().await;
}

#[tokio::test]
async fn a_supervisor_sees_their_departments_and_filters_narrow_every_measure() {
    let org = scripted().await;
    let m = org.summary(SUE, "").await;
    assert_eq!(m.window, MetricsWindow::Day);
    let ids: Vec<&str> = m.by_department.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(ids, ["support"]);
    assert_eq!(m.first_response, latency(4, Some(1_800), Some(37_800)));
    assert_eq!(m.sla.open, 2);
    assert_eq!(m.sla.breached_now, 1);
    assert_eq!(m.sla.breach_share, Some(0.5));
    let agents: Vec<&str> = m.agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(agents, ["ag_alice", "ag_jonas", "ag_sue"]);
    assert!(m.by_agent.iter().all(|g| g.key != "ag_bilal"));
    // Another department is "not found", as in the queue; agents see no team figures.
    let other = org
        .server
        .get("/v1/metrics/summary?department=billing", SUE)
        .await;
    assert_problem(&other, StatusCode::NOT_FOUND);
    let agent = org.server.get("/v1/metrics/summary", ALICE).await;
    assert_problem(&agent, StatusCode::FORBIDDEN);

    let billing = org.summary(SAM, "?department=billing").await;
    assert_eq!(billing.first_response, latency(1, Some(3_600), Some(3_600)));
    assert_eq!(billing.sla.open, 1);
    assert_eq!(billing.by_department.len(), 1);
    let agents: Vec<&str> = billing.agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(agents, ["ag_bilal"]);
    let email = org.summary(SAM, "?channel=email").await;
    assert_eq!(email.first_response, latency(1, Some(1_800), Some(1_800)));
    assert_eq!(email.sla.open, 0);
    assert_eq!(email.volume.iter().map(|v| v.inbound).sum::<u64>(), 1);
    let jonas = org.summary(SAM, "?agent=ag_jonas").await;
    assert_eq!(jonas.first_response, latency(1, Some(10_800), Some(10_800)));
    assert_eq!(jonas.sla.breached_now, 1);
    assert_eq!(jonas.queue.iter().map(|q| q.count).sum::<u64>(), 2);
    let agents: Vec<&str> = jonas.agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(agents, ["ag_jonas"]);

    // An hour: only i7 came, only i5's SLA fell due (unanswered).
    let hour = org.summary(SAM, "?window=1h").await;
    assert_eq!(hour.since, at(1380));
    assert_eq!(hour.volume.len(), 1);
    assert_eq!(hour.volume[0].inbound, 1);
    assert_eq!(hour.first_response.count, 0);
    assert_eq!(hour.first_response.p50_secs, None);
    assert_eq!(hour.sla.breach_share, Some(1.0));
    assert_eq!(hour.response_trend[0].p50_secs.len(), 12);
    // A week: the identity share day by day (nobody known before S-1d).
    let week = org.summary(SAM, "?window=7d").await;
    let shares: Vec<Option<f64>> = week.linked.iter().map(|l| l.identities).collect();
    assert_eq!(
        shares,
        [None, None, None, None, None, Some(0.75), Some(5.0 / 6.0)]
    );
    assert_eq!(week.linked[6].at, at(1440));
    assert_eq!(week.volume.len(), 168);
    assert_eq!(week.first_response, latency(5, Some(3_600), Some(37_800)));
    assert_eq!(week.trend_slice_secs, 6 * 3_600);

    for bad in ["?window=2h", "?channel=pigeon", "?colour=red"] {
        let r = org
            .server
            .get(&format!("/v1/metrics/summary{bad}"), SAM)
            .await;
        assert_problem(&r, StatusCode::BAD_REQUEST);
    }
    let long = format!("?agent={}", "a".repeat(200));
    let r = org
        .server
        .get(&format!("/v1/metrics/summary{long}"), SAM)
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    org.server.stop().await;
}

/// Scrapes `/metrics` until `ready` holds for the parsed samples (intake is counted from the
/// event log by a background task, a moment after the writes), or gives up after 10 s.
async fn scrape_until(
    org: &Org,
    ready: impl Fn(&prometheus_parse::Scrape) -> bool,
) -> (String, prometheus_parse::Scrape) {
    let addr = org
        .server
        .server
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("metrics served");
    let mut last = String::new();
    for _ in 0..100 {
        let r = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        last = r.text().await.unwrap();
        let lines = last.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition format");
        if ready(&scrape) {
            return (last, scrape);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the metrics never got there:\n{last}");
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

#[tokio::test]
async fn prometheus_sees_requests_streams_the_log_deliveries_intake_and_breaches() {
    let org = scripted().await;
    let mut stream = subscribe(&org.server.base, SAM, None).await;
    let _ = next_event(&mut stream, 1).await;
    // Hits no route; counted under one label, never its path.
    let _ = org.server.get("/v1/no/such/route/secret-path", SAM).await;
    let head = *org.server.store().subscribe_seq().borrow();
    let (text, m) = scrape_until(&org, |m| {
        value(m, "earshot_feedback_received_total", &[("channel", "x")]) == Some(6.0)
            && value(m, "earshot_sse_subscribers", &[]) == Some(1.0)
    })
    .await;
    let post = [
        ("method", "POST"),
        ("route", "/v1/feedback"),
        ("status", "201"),
    ];
    assert_eq!(value(&m, "earshot_http_requests_total", &post), Some(8.0));
    // The histogram's +Inf bucket counts every request.
    assert_eq!(
        value(&m, "earshot_http_request_duration_seconds", &post),
        Some(8.0)
    );
    let patch = [
        ("method", "PATCH"),
        ("route", "/v1/feedback/:id"),
        ("status", "200"),
    ];
    let patches: Vec<&str> = text.lines().filter(|l| l.contains("PATCH")).collect();
    assert_eq!(
        value(&m, "earshot_http_requests_total", &patch),
        Some(10.0),
        "{patches:?}"
    );
    let unrouted = [("route", "(no route)"), ("status", "404")];
    assert_eq!(
        value(&m, "earshot_http_requests_total", &unrouted),
        Some(1.0)
    );
    assert!(!text.contains("secret-path"));
    assert_eq!(value(&m, "earshot_event_log_head", &[]), Some(head as f64));
    assert!(head > 0);
    // Five replies of one part each, queued (no outbound channel), the oldest sent at S+30.
    assert_eq!(
        value(&m, "earshot_outbound_messages", &[("status", "queued")]),
        Some(5.0)
    );
    assert_eq!(
        value(&m, "earshot_outbound_messages", &[("status", "delivered")]),
        Some(0.0)
    );
    assert_eq!(value(&m, "earshot_outbound_queue_depth", &[]), Some(5.0));
    assert_eq!(
        value(&m, "earshot_outbound_queue_oldest_age_seconds", &[]),
        Some(1410.0 * 60.0)
    );
    assert_eq!(
        value(
            &m,
            "earshot_feedback_received_total",
            &[("channel", "email")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "earshot_feedback_received_total",
            &[("channel", "facebook")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "earshot_sla_breached_items",
            &[("department", "support")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "earshot_sla_breached_items",
            &[("department", "billing")]
        ),
        Some(0.0)
    );
    for pool in ["reader", "writer"] {
        assert!(value(
            &m,
            "earshot_db_pool_connections",
            &[("pool", pool), ("state", "idle")]
        )
        .is_some());
        assert!(value(
            &m,
            "earshot_db_pool_connections",
            &[("pool", pool), ("state", "busy")]
        )
        .is_some());
    }
    // Every write so far waited for the writer once: at least the 30 or so of the script.
    assert!(value(&m, "earshot_db_write_wait_seconds_count", &[]).is_some_and(|n| n >= 30.0));
    // Only GET /metrics is served there.
    let addr = org.server.server.as_ref().unwrap().metrics_addr.unwrap();
    let other = reqwest::get(format!("http://{addr}/v1/feedback"))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    drop(stream);
    org.server.stop().await;
}

/// The whole answer decodes with the shared types and says what the type says it does: every
/// field is present in JSON.
#[tokio::test]
async fn the_summary_on_the_wire_has_every_field() {
    let org = scripted().await;
    let r = org.server.get("/v1/metrics/summary?window=30d", SAM).await;
    assert_eq!(r.status, StatusCode::OK);
    for field in [
        "window",
        "since",
        "generated_at",
        "first_response",
        "resolution",
        "by_department",
        "by_agent",
        "by_channel",
        "trend_slice_secs",
        "response_trend",
        "sla",
        "queue",
        "volume",
        "linked",
        "sentiment",
        "detractors",
        "helpers",
        "agents",
    ] {
        assert!(r.body.get(field).is_some(), "{field} missing");
    }
    assert_eq!(r.body["window"], Value::String("30d".into()));
    let m: MetricsSummary = serde_json::from_value(r.body).unwrap();
    assert_eq!(m.volume.len(), 720);
    assert_eq!(m.linked.len(), 30);
    assert_eq!(m.response_trend[0].p50_secs.len(), 30);
    org.server.stop().await;
}

/// The Team screen's snapshots (src/tui/panes/tests.rs) are drawn from a summary this server
/// produced for the scripted organisation, as the admin sees it (every department); the fixture
/// holds it with the random item ids named after the script (i0..i7). This test keeps the
/// fixture true: it fails when the server's answer no longer matches it, and
/// `EARSHOT_UPDATE_FIXTURES=1` rewrites it.
#[tokio::test]
async fn the_team_screen_fixture_is_what_the_server_answers() {
    let org = scripted().await;
    let r = org.server.get("/v1/metrics/summary?window=24h", SAM).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut text = serde_json::to_string_pretty(&r.body).unwrap();
    for (n, id) in org.items.iter().enumerate() {
        text = text.replace(id.as_str(), &format!("fb_i{n}"));
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/tui/panes/fixtures/team_summary.json"
    );
    if std::env::var("EARSHOT_UPDATE_FIXTURES").is_ok() {
        std::fs::write(path, format!("{text}\n")).unwrap();
    }
    let stored: MetricsSummary =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture")).unwrap();
    let answered: MetricsSummary = serde_json::from_str(&text).unwrap();
    assert_eq!(
        stored, answered,
        "the fixture is stale: EARSHOT_UPDATE_FIXTURES=1 rewrites it"
    );
    org.server.stop().await;
}

/// Deliveries by outcome: a reply delivered to a receiver that answers 200 is counted from the
/// event log (sent, then delivered) and leaves the queue empty.
#[tokio::test]
async fn prometheus_counts_deliveries_by_status() {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let toml = format!(
        "[retry]\nmax_attempts = 3\nbase_ms = 50\n[default]\nurl = \"http://{hook}/hook\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
    );
    let outbound = earshot::server::delivery::OutboundConfig::parse(&toml).unwrap();
    let server = start_with(test_db().await, move |c| {
        c.outbound = Some(outbound);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let item = server
        .feedback(ALICE, "x", "@ann", "the kettle leaks")
        .await;
    let id = item["id"].as_str().unwrap();
    let r = server
        .reply(
            id,
            ALICE,
            "delivered-1",
            json!({"parts": [{"visibility": "public", "body": "Thank you, we are looking into this now."}]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let org = Org {
        server,
        clock: Clock::system(),
        _routing: tempfile::NamedTempFile::new().unwrap(),
        items: vec![id.to_string()],
    };
    // The counters follow the event log and the gauges are read from the tables at the scrape,
    // so one scrape can fall between the two: wait until both have seen the delivery.
    let (_, m) = scrape_until(&org, |m| {
        value(
            m,
            "earshot_outbound_status_changes_total",
            &[("status", "delivered")],
        ) == Some(1.0)
            && value(m, "earshot_outbound_messages", &[("status", "delivered")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        value(
            &m,
            "earshot_outbound_status_changes_total",
            &[("status", "sent")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "earshot_outbound_messages", &[("status", "delivered")]),
        Some(1.0)
    );
    assert_eq!(value(&m, "earshot_outbound_queue_depth", &[]), Some(0.0));
    assert_eq!(
        value(&m, "earshot_outbound_queue_oldest_age_seconds", &[]),
        Some(0.0)
    );
    org.server.stop().await;
}

/// A summary with the sentiment means rounded to 1e-9: SQL sums the scores as floating point in
/// its own order, the copy in memory sums them exactly, so the last bits may differ.
fn comparable(mut m: MetricsSummary) -> MetricsSummary {
    for d in &mut m.sentiment {
        d.mean = d.mean.map(|x| (x * 1e9).round() / 1e9);
    }
    m
}

/// Every window with every filter, as each kind of caller: the copy in memory that the summary
/// ranks from (`metrics_summary`) gives what SQL gives from the tables.
async fn assert_memory_matches_tables(store: &earshot::server::store::Store, when: &str) {
    let scopes = [
        DepartmentScope::All,
        DepartmentScope::only(&["support".to_string()]),
        DepartmentScope::only(&["billing".to_string(), "support".to_string()]),
    ];
    let filters = [
        MetricsQuery::default(),
        MetricsQuery {
            department: Some("support".into()),
            ..Default::default()
        },
        MetricsQuery {
            agent: Some("ag_alice".into()),
            ..Default::default()
        },
        MetricsQuery {
            agent: Some("ag_nobody".into()),
            ..Default::default()
        },
        MetricsQuery {
            channel: Some(Channel::X),
            ..Default::default()
        },
        MetricsQuery {
            channel: Some(Channel::Review),
            ..Default::default()
        },
    ];
    for scope in &scopes {
        for filter in &filters {
            for window in MetricsWindow::ALL {
                let q = MetricsQuery {
                    window: *window,
                    ..filter.clone()
                };
                let memory = store.metrics_summary(&q, scope).await.unwrap();
                let tables = store.metrics_summary_from_tables(&q, scope).await.unwrap();
                assert_eq!(
                    comparable(memory),
                    comparable(tables),
                    "{when}: {q:?} as {scope:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_summary_from_memory_is_the_summary_from_the_tables() {
    let mut org = scripted().await;
    let store = org.server.store().clone();
    // A second instance of the server on the same database, its copy loaded now.
    let other = earshot::server::store::Store::open(&org.server.db.url)
        .await
        .unwrap()
        .with_clock(org.clock.clone());
    assert_memory_matches_tables(&store, "scripted day").await;
    assert_memory_matches_tables(&other, "second instance").await;

    // Changes after both copies were loaded, to items of hours long closed: an old item moves
    // department and agent, another is resolved, the unknown author is linked (their items
    // become a customer's), and a new item comes and is answered.
    org.now(1500);
    org.patch(
        0,
        SAM,
        json!({ "department": "billing", "assignee": "ag_bilal" }),
    )
    .await;
    org.resolve(4, BILAL).await;
    org.link_author(5, JONAS, "cu_ben").await;
    org.patch(6, ALICE, json!({ "sentiment_label": "positive" }))
        .await;
    org.now(1510);
    org.intake(
        "review",
        "@critic",
        "Two stars, slow answers",
        "ag_jonas",
        "negative",
    )
    .await;
    org.now(1520);
    org.reply(8, JONAS, "public").await;
    org.reply(7, BILAL, "direct").await;
    org.now(1600);
    assert_memory_matches_tables(&store, "after changes").await;
    assert_memory_matches_tables(&other, "after changes, second instance").await;
    let week = MetricsQuery {
        window: MetricsWindow::Week,
        ..Default::default()
    };
    let m = store
        .metrics_summary(&week, &DepartmentScope::All)
        .await
        .unwrap();
    let billing = group(&m.by_department, "billing");
    assert_eq!(
        billing.first_response.count, 3,
        "i0, i4, i7: {:?}",
        m.by_department
    );
    other.close().await;
    org.server.stop().await;
}
