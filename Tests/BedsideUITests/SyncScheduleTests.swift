import BedsideCore
import Testing

@testable import BedsideUI

/// The sync worker's schedule and what the status line says, driven by the reducer alone.
@Suite("Sync schedule")
struct SyncScheduleTests {
    let start: Int64 = 1_768_469_400_000  // 2026-01-15T09:30:00Z
    let ann = SessionInfo(displayName: "Ann", email: "ann@example.org", server: "https://s")

    func header(_ state: AppState) -> String { render(state).lines[0] }

    func weight(_ id: String) -> MeasurementRecord {
        MeasurementRecord(id: id, kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: "80")], effectiveAt: start, utcOffsetSeconds: 0)
    }

    @Test("unlocking syncs at once; an entry syncs two seconds later; then every interval")
    func triggers() {
        var state = AppState(width: 80, height: 24, now: start, utcOffsetSeconds: 0, language: .en, hasAccount: true, server: "", idSeed: 1)
        #expect(reduce(&state, .unlocked(ann)) == [.loadStatus, .sync])
        #expect(header(state).contains("syncing"))
        _ = reduce(&state, .syncFinished(SyncOutcome()))
        #expect(state.sync.nextAttemptAt == start + 5 * 60_000)

        _ = reduce(&state, .saved(weight("a"), edited: false))
        _ = reduce(&state, .statusLoaded(HomeStatus(unsent: 1, lastSync: start)))
        #expect(header(state).contains("1 unsent"))
        #expect(reduce(&state, .tick(now: start + 1_000)).isEmpty, "not yet: entries made together travel together")
        #expect(reduce(&state, .tick(now: start + 2_000)) == [.sync])
        #expect(reduce(&state, .tick(now: start + 3_000)).isEmpty, "one sync at a time")
        _ = reduce(&state, .syncFinished(SyncOutcome(sent: 1)))
        #expect(state.message?.text == "Saved. It will be sent at the next sync.", "automatic syncs are quiet when they succeed")
        #expect(reduce(&state, .tick(now: start + 3_000 + 5 * 60_000)) == [.sync], "and again after the interval")
    }

    @Test("progress and the last sync read as a patient would say them")
    func statusLine() {
        var state = loggedInState(at: start)
        #expect(press(&state, .character("s")) == [.sync])
        _ = reduce(&state, .syncProgress(.sending(done: 2, total: 120)))
        #expect(header(state).contains("sending 3 of 120"))
        _ = reduce(&state, .syncProgress(.receiving))
        #expect(header(state).contains("receiving"))
        _ = reduce(&state, .syncFinished(SyncOutcome(sent: 120)))
        _ = reduce(&state, .statusLoaded(HomeStatus(lastSync: start)))
        #expect(state.message?.text == "Synced.", "a sync the patient asked for says how it went")
        #expect(header(state).contains("synced just now"))
        _ = reduce(&state, .tick(now: start + 2 * 60_000 + 5_000))
        #expect(header(state).contains("synced 2 min ago"))
    }

    @Test("offline: full-jitter back-off, capped at five minutes, shown as a countdown")
    func backOff() {
        var state = loggedInState(at: start)
        var bounds: [Int64] = []
        for failure in 1...12 {
            _ = press(&state, .character("s"))
            _ = reduce(&state, .syncFinished(SyncOutcome(failure: .offline, message: "The server cannot be reached.")))
            let wait = (state.sync.nextAttemptAt ?? 0) - state.now
            #expect(wait >= 1_000 && wait <= RetryPolicy.standard.bound(afterFailures: failure), "failure \(failure): \(wait) ms")
            bounds.append(RetryPolicy.standard.bound(afterFailures: failure))
        }
        #expect(bounds.prefix(4) == [2_000, 4_000, 8_000, 16_000])
        #expect(bounds.last == 300_000)
        #expect(header(state).contains("offline, retrying in"))
        #expect(state.message?.isError == true)
        // The network returns: the scheduled retry succeeds and the counter starts over.
        let retryAt = state.sync.nextAttemptAt ?? 0
        #expect(reduce(&state, .tick(now: retryAt)) == [.sync])
        _ = reduce(&state, .syncFinished(SyncOutcome(sent: 3)))
        #expect(state.sync.failures == 0 && !state.sync.offline)
    }

    @Test("a busy server's Retry-After is honoured even above the back-off")
    func retryAfter() {
        var state = loggedInState(at: start)
        _ = press(&state, .character("s"))
        _ = reduce(&state, .syncFinished(SyncOutcome(failure: .serverBusy(retryAfterSeconds: 120), message: "busy")))
        #expect(state.sync.nextAttemptAt! >= start + 120_000)
        #expect(header(state).contains("retrying in 2 min"))
        #expect(reduce(&state, .tick(now: start + 119_000)).isEmpty)
    }

    @Test("401: the queue stays, nothing retries by itself, and logging in again resumes")
    func sessionEnded() {
        var state = loggedInState(at: start)
        _ = reduce(&state, .statusLoaded(HomeStatus(unsent: 3)))
        _ = press(&state, .character("s"))
        _ = reduce(&state, .syncFinished(SyncOutcome(failure: .sessionEnded, message: "Your session has ended.")))
        guard case .reauth = state.screen else {
            Issue.record("expected the log-in-again screen, got \(state.screen)")
            return
        }
        #expect(render(state).text.contains("Your 3 unsent measurements"))
        #expect(header(state).contains("log in again to send"))
        // Not now: home keeps asking, and time alone does not retry.
        _ = press(&state, .escape)
        #expect(render(state).text.contains("Press i to log in again"), "\(render(state).text)")
        #expect(reduce(&state, .tick(now: start + 10 * 60_000)).isEmpty)
        _ = press(&state, .character("i"))
        type(&state, "secret-password-1")
        #expect(press(&state, .enter) == [.requestCode(server: "https://s", email: "ann@example.org", password: "secret-password-1")])
        _ = reduce(&state, .codeRequested)
        type(&state, "123456")
        #expect(press(&state, .enter) == [.verifyCode(code: "123456")])
        #expect(reduce(&state, .attention(.reauthenticated)) == [.sync])
        #expect(state.stack == [.home])
        #expect(!state.sync.needsLogin)
    }

    @Test("a sync asked for while one runs runs once more afterwards")
    func requestedAgain() {
        var state = loggedInState(at: start)
        #expect(press(&state, .character("s")) == [.sync])
        #expect(press(&state, .character("s")).isEmpty)
        #expect(reduce(&state, .syncFinished(SyncOutcome(sent: 1))).contains(.sync))
    }

    @Test("Needs attention: see why, fix, send again, or discard only after yes")
    func attention() {
        var state = loggedInState(at: start)
        _ = reduce(&state, .statusLoaded(HomeStatus(rejected: 2)))
        #expect(render(state).text.contains("2 measurements need your attention: press n"))
        #expect(press(&state, .character("n")) == [.loadAttention])
        let refused = AttentionItem(record: weight("a"), reason: "effectiveDateTime lies in the future (Observation.effectiveDateTime)", isWithdrawal: false)
        let withdrawal = AttentionItem(record: weight("b"), reason: "Version conflict", isWithdrawal: true)
        _ = reduce(&state, .attention(.loaded([refused, withdrawal])))
        let text = render(state).text
        #expect(text.contains("Needs attention (2)"))
        #expect(text.contains("Server: effectiveDateTime lies in the future"))
        #expect(press(&state, .character("r")) == [.resend(id: "a")])
        #expect(reduce(&state, .attention(.resent(id: "a"))) == [.loadAttention, .loadStatus, .sync])
        _ = reduce(&state, .syncFinished(SyncOutcome()))
        #expect(press(&state, .character("d")).isEmpty)
        #expect(render(state).text.contains("Discard this measurement?"))
        #expect(press(&state, .character("n")).isEmpty, "no means no")
        _ = press(&state, .character("d"))
        #expect(press(&state, .character("y")) == [.discard(id: "a")])
        _ = reduce(&state, .attention(.discarded(id: "a")))
        _ = press(&state, .down)
        #expect(press(&state, .character("e")).isEmpty)
        #expect(state.message?.text.contains("cannot be changed") == true, "a withdrawal is not edited")
        _ = press(&state, .up, .character("e"))
        guard case .form(let form) = state.screen else {
            Issue.record("expected the edit form, got \(state.screen)")
            return
        }
        #expect(form.editing?.id == "a")
    }
}
