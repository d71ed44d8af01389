import BedsideCore
import Foundation
import Testing

@testable import BedsideUI

/// The kiosk's screens and keys without a server: order, filters, what is shown, and that every screen
/// fits 80x24 in every language with its key hints whole.
@Suite("Kiosk screens")
struct KioskScreenTests {
    let now: Int64 = 1_768_469_400_000

    var alerts: [KioskAlert] {
        [
            KioskAlert(id: "a", version: 1, patientID: "p1", patientName: "Marie Jansen", priority: .orange, status: "active",
                summary: "Weight +2.3 kg within 3 days", raisedAt: now - 5 * 3_600_000),
            KioskAlert(id: "b", version: 2, patientID: "p2", patientName: "Ruth Example", priority: .red, status: "active",
                summary: "PHQ-9 total 17 (≥ 15); PHQ-9 item 9 answered 1", raisedAt: now - 3_600_000, escalated: true,
                notes: [.init(author: "Nurse Ben", time: now - 600_000, text: "Psychiatrist informed")]),
            KioskAlert(id: "c", version: 1, patientID: "p3", patientName: "Piet de Vries", priority: .orange, status: "active",
                summary: "Systolic 165 mmHg (≥ 160)", raisedAt: now - 3 * 3_600_000),
            KioskAlert(id: "d", version: 3, patientID: "p3", patientName: "Piet de Vries", priority: .gray, status: "inactive",
                summary: "Remark: feeling dizzy", raisedAt: now - 86_400_000),
            KioskAlert(id: "e", version: 1, patientID: "p1", patientName: "Marie Jansen", priority: .red, status: "active",
                summary: "SpO2 88 % (< 90)", raisedAt: now - 600_000, snoozedUntil: now + 3_600_000),
        ]
    }

    var cursor: QueueCursor { QueueCursor.start(answeredAt: now) }

    func kiosk(_ language: Language = .en) -> AppState {
        var state = AppState(width: 80, height: 24, now: now, utcOffsetSeconds: 3600, language: language, hasAccount: false, server: "", idSeed: 1)
        state.kiosk = true
        _ = reduce(&state, .loggedIn(SessionInfo(displayName: "Nurse Anna", email: "anna@example.org", server: "https://s")))
        _ = reduce(&state, .alertsLoaded(alerts, cursor: cursor))
        return state
    }

    @Test("most urgent first, then oldest; snoozed and handled ones apart; counts of open ones in the header")
    func orderAndFilters() {
        var state = kiosk()
        guard case .alerts(let queue) = state.screen else { Issue.record("not on the queue"); return }
        #expect(queue.shown(at: now).map(\.id) == ["b", "a", "c"])
        let text = render(state).text
        #expect(text.contains("1 red · 2 orange · 0 gray"))
        #expect(text.contains("▲ RED     Ruth Example"))
        #expect(text.contains("[escalated] PHQ-9 total 17"))
        _ = press(&state, .character("p"))
        #expect(render(state).text.contains("Showing: ▲ RED, open"))
        #expect(!render(state).text.contains("Piet de Vries"))
        _ = press(&state, .character("p"), .character("p"), .character("p"), .character("v"))
        #expect(render(state).text.contains("SpO2 88 %"), "snoozed")
        _ = press(&state, .character("v"))
        #expect(render(state).text.contains("Remark: feeling dizzy"), "handled")
    }

    @Test("the refresh asks every 10 s for what changed since the cursor, with the last tag, and not while a request is out")
    func refresh() {
        var state = kiosk()
        #expect(reduce(&state, .tick(now: now + 5_000)).isEmpty)
        #expect(reduce(&state, .tick(now: now + 10_000)) == [.loadAlerts(after: cursor)])
        #expect(reduce(&state, .tick(now: now + 25_000)).isEmpty, "one request at a time")
        let tagged = QueueCursor(since: now - 30_000, etag: "W/\"search-1\"")
        _ = reduce(&state, .alertsChanged([], cursor: tagged))
        #expect(reduce(&state, .tick(now: now + 35_000)) == [.loadAlerts(after: tagged)])
        _ = reduce(&state, .alertsUnchanged)
        #expect(reduce(&state, .tick(now: now + 45_000)) == [.loadAlerts(after: tagged)])
        _ = press(&state, .character("r"))
        guard case .alerts(let queue) = state.screen else { Issue.record("not on the queue"); return }
        #expect(queue.loading, "r asks for the whole queue again")
    }

    @Test("the cursor stays put (and its tag with it) while the changes it brings are recent; it moves up past settled ones")
    func cursorAdvance() {
        let start = QueueCursor.start(answeredAt: now)
        #expect(start.since == now - 30_000)
        let recent = start.advanced(answeredAt: now + 10_000, changedAt: [now - 5_000, now + 9_000], etag: "W/\"a\"")
        #expect(recent == QueueCursor(since: now - 30_000, etag: "W/\"a\""), "the same request again: a 304 if nothing changed")
        let quiet = start.advanced(answeredAt: now + 600_000, changedAt: [], etag: "W/\"b\"")
        #expect(quiet == QueueCursor(since: now - 30_000, etag: "W/\"b\""))
        let settled = start.advanced(answeredAt: now + 60_000, changedAt: [now - 5_000, now + 50_000], etag: "W/\"c\"")
        #expect(settled == QueueCursor(since: now + 30_000), "a new request, with no tag of the old one")
    }

    @Test("a refresh's changes are merged: a newer version replaces the one held (also on screen), an older one does not, a new alert joins")
    func mergeChanges() {
        var state = kiosk()
        _ = press(&state, .enter)
        var handled = alerts[1]
        handled.version = 3
        handled.status = "inactive"
        var stale = alerts[0]
        stale.version = 0
        stale.summary = "an old version"
        let new = KioskAlert(id: "f", version: 1, patientID: "p4", patientName: "Jan Smit", priority: .red, status: "active",
            summary: "Systolic 190 mmHg (≥ 180)", raisedAt: now - 60_000)
        let next = QueueCursor(since: now - 1_000)
        _ = reduce(&state, .alertsChanged([handled, stale, new], cursor: next))
        guard case .alertDetail(let shown) = state.screen else { Issue.record("not on the alert"); return }
        #expect(shown.version == 3 && !shown.isOpen, "the alert on screen shows the newer state")
        _ = press(&state, .escape)
        guard case .alerts(let queue) = state.screen else { Issue.record("not on the queue"); return }
        #expect(queue.cursor == next)
        #expect(queue.alerts.count == 6)
        #expect(queue.alerts.first { $0.id == "a" }?.summary == "Weight +2.3 kg within 3 days")
        #expect(queue.shown(at: now).map(\.id) == ["f", "a", "c"])
        #expect(render(state).text.contains("1 red · 2 orange · 0 gray"))
    }

    @Test("handling needs a note, and is sent with the version seen; a snooze chooses its length")
    func triageKeys() {
        var state = kiosk()
        _ = press(&state, .enter)
        #expect(render(state).text.contains("Psychiatrist informed"))
        _ = press(&state, .character("h"))
        #expect(press(&state, .enter).isEmpty)
        #expect(render(state).text.contains("Write why"))
        type(&state, "Called her")
        #expect(press(&state, .enter) == [.triage(AlertTriage(alertID: "b", version: 2, action: .handle, note: "Called her"))])
        _ = reduce(&state, .failed("offline"))
        _ = press(&state, .escape, .escape, .down, .enter, .character("z"))
        #expect(render(state).text.contains("Snooze for 4 h: Marie Jansen"))
        _ = press(&state, .right)
        #expect(press(&state, .enter) == [.triage(AlertTriage(alertID: "a", version: 1, action: .snooze(until: now + 24 * 3_600_000), note: ""))])
    }

    @Test("every kiosk screen fits 80x24 with its hints whole, in English, Dutch and German", arguments: Language.allCases)
    func fits(_ language: Language) {
        var state = kiosk(language)
        var screens: [String] = [render(state).text]
        _ = press(&state, .enter)
        screens.append(render(state).text)
        _ = press(&state, .character("z"))
        screens.append(render(state).text)
        _ = press(&state, .escape)
        _ = reduce(&state, .triageConflict(current: alerts[1], attempted: AlertTriage(alertID: "b", version: 1, action: .handle, note: "x")))
        screens.append(render(state).text)
        for screen in screens {
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count <= 24)
            let hints = (lines.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? "").trimmingCharacters(in: .whitespaces)
            #expect(hints.hasSuffix("help") || hints.hasSuffix("Hilfe") || hints.hasSuffix("hulp"), "cut: [\(hints)]")
            #expect(!screen.contains("…  "), "\(screen)")
        }
    }
}

@Suite("Text chart")
struct TextChartTests {
    @Test("heights scale from the lowest to the highest value; a day without a value is a dot on the base line")
    func chart() {
        let rows = TextChart.render([100, nil, 140, 180], rows: 2)
        #expect(rows[0] == "  ▁█", "140 is just over half way: one eighth into the top row")
        #expect(rows[1] == "▁·██")
        #expect(TextChart.render([5, 5], rows: 2) == ["  ", "██"])
        #expect(TextChart.render([nil, nil], rows: 2).isEmpty)
    }

    @Test("a day's last reading stands for the day, in the patient's time zone; older days fall off")
    func daily() {
        let day: Int64 = 86_400_000
        let now = 100 * day + 12 * 3_600_000
        let values = TextChart.daily(
            [(now - 31 * day, 1), (now - 2 * day, 2), (now - 2 * day + 3_600_000, 3), (now, 4)], days: 30, endingAt: now, zone: .fixed(0))
        #expect(values.count == 30)
        #expect(values[29] == 4 && values[27] == 3 && values[28] == nil)
        #expect(values.compactMap { $0 }.count == 2)
    }
}
