//! The loop: draw, read a key (100 ms at most), apply answers, retry failed requests, and in live
//! mode follow the live stream (refreshing at most every [`LIVE_BATCH`]) or poll while it is
//! unavailable. Requests and the live stream run on the tokio runtime and come back over
//! channels, so the screen never freezes on a slow or unreachable API.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::DefaultTerminal;
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::app::{App, Live};
use super::fetch::{perform, Fetch, Loaded};
use super::live::{self, LiveUpdate};
use super::views;
use crate::client::ApiClient;

/// How long a failed request waits before it is sent again.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// The longest the loop waits for a key before it looks at answers and timers.
const TICK: Duration = Duration::from_millis(100);
/// Live messages arriving within this long cause one refresh (a busy stream sends hundreds).
const LIVE_BATCH: Duration = Duration::from_millis(500);

/// Runs until the app quits or `stop` turns true.
pub fn run(
    terminal: &mut DefaultTerminal,
    client: &ApiClient,
    key: Option<String>,
    runtime: &Handle,
    stop: &watch::Receiver<bool>,
    poll: Duration,
) -> anyhow::Result<()> {
    let (answers, inbox) = mpsc::channel::<Loaded>();
    let send = |fetches: Vec<Fetch>| {
        for fetch in fetches {
            let (client, answers) = (client.clone(), answers.clone());
            runtime.spawn(async move {
                let _ = answers.send(perform(&client, fetch).await);
            });
        }
    };
    let (mut app, first) = App::new(client.base());
    send(first);
    let mut retries: Vec<(Instant, Fetch)> = Vec::new();
    let mut next_poll = Instant::now() + poll;
    let (live_updates, live_inbox) = mpsc::channel::<LiveUpdate>();
    // The live stream's task while live mode is on.
    let mut feed: Option<tokio::task::JoinHandle<()>> = None;
    let mut next_live_refresh = Instant::now();
    let result = loop {
        terminal.draw(|frame| views::render(frame, &app))?;
        if event::poll(TICK)? {
            if let Event::Key(key) = event::read()? {
                if key.kind == KeyEventKind::Press {
                    send(app.on_key(key));
                }
            }
        }
        match (app.live.is_on(), &feed) {
            (true, None) => {
                let (base, updates) = (client.base(), live_updates.clone());
                feed = Some(live::follow(runtime, base, key.clone(), updates));
            }
            (false, Some(task)) => {
                task.abort();
                feed = None;
            }
            _ => {}
        }
        while let Ok(update) = live_inbox.try_recv() {
            app.on_live(update);
        }
        while let Ok(loaded) = inbox.try_recv() {
            if let Loaded::Failed(fetch, _) = &loaded {
                if !retries.iter().any(|(_, f)| f == fetch) {
                    retries.push((Instant::now() + RETRY_AFTER, fetch.clone()));
                }
            }
            send(app.on_loaded(loaded));
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = retries.into_iter().partition(|(at, _)| *at <= now);
        retries = later;
        send(due.into_iter().map(|(_, fetch)| fetch).collect());
        if app.live == Live::Streaming && now >= next_live_refresh {
            send(app.live_refresh());
            next_live_refresh = now + LIVE_BATCH;
        }
        if app.live.is_on() && app.live != Live::Streaming && now >= next_poll {
            send(app.refresh(false));
            next_poll = now + poll;
        }
        if app.quit || *stop.borrow() {
            break Ok(());
        }
    };
    if let Some(task) = feed {
        task.abort();
    }
    result
}
