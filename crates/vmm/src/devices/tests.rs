//! Tests of the shared pieces ([`Control`], [`Wakeup`], the ISA byte-splitting helpers).

use super::*;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn control_starts_with_the_given_a20_state_and_no_stop() {
    assert!(Control::new(true).a20_enabled());
    let c = Control::new(false);
    assert!(!c.a20_enabled());
    c.set_a20(true);
    assert!(c.a20_enabled());
    assert_eq!(c.stop_requested(), None);
}

#[test]
fn first_stop_request_wins_until_taken() {
    let c = Control::new(true);
    c.request_stop(StopReason::Exit(3));
    c.request_stop(StopReason::Reset);
    assert_eq!(c.stop_requested(), Some(StopReason::Exit(3)));
    assert_eq!(c.take_stop(), Some(StopReason::Exit(3)));
    assert_eq!(c.stop_requested(), None);
    c.request_stop(StopReason::PowerOff);
    assert_eq!(c.take_stop(), Some(StopReason::PowerOff));
}

#[test]
fn stop_request_wakes_a_halted_vcpu() {
    let c = Arc::new(Control::new(true));
    let token = c.wakeup().token();
    let c2 = c.clone();
    let t = thread::spawn(move || c2.request_stop(StopReason::PowerOff));
    assert!(c.wakeup().wait(token, Some(Duration::from_secs(10))));
    t.join().unwrap();
    assert_eq!(c.stop_requested(), Some(StopReason::PowerOff));
}

#[test]
fn wakeup_with_a_stale_token_returns_at_once() {
    let w = Wakeup::new();
    let token = w.token();
    w.notify();
    let start = Instant::now();
    assert!(w.wait(token, None));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn wakeup_times_out_without_a_notification() {
    let w = Wakeup::new();
    assert!(!w.wait(w.token(), Some(Duration::from_millis(10))));
}

#[test]
fn bcd_helpers_round_trip_and_tolerate_bad_digits() {
    assert_eq!(to_bcd(1234), 0x1234);
    assert_eq!(to_bcd(0), 0);
    assert_eq!(from_bcd(0x9999), 9999);
    assert_eq!(from_bcd(0xFF), 165);
    for v in 0..10_000 {
        assert_eq!(from_bcd(to_bcd(v)), v);
    }
}

#[test]
fn wide_accesses_split_into_bytes_within_the_device() {
    let mut seen = Vec::new();
    write_bytes("t", 2, 1, &[1, 2, 3, 4], |off, v| seen.push((off, v)));
    assert_eq!(seen, [(1, 1)]);
    let mut d = [0u8; 4];
    read_bytes("t", 3, 0, &mut d, |off| off as u8 + 10);
    assert_eq!(d, [10, 11, 12, 0xFF]);
}
