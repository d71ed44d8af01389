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
        _ = reduce(&state, .kiosk(.alertsLoaded(alerts, cursor: cursor)))
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
        _ = reduce(&state, .kiosk(.alertsChanged([], cursor: tagged)))
        #expect(reduce(&state, .tick(now: now + 35_000)) == [.loadAlerts(after: tagged)])
        _ = reduce(&state, .kiosk(.alertsUnchanged))
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
        _ = reduce(&state, .kiosk(.alertsChanged([handled, stale, new], cursor: next)))
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

    /// Ruth (p2): a reading of every kind but glucose, a week of weights, answers.
    func overview(of patientID: String) -> PatientOverview {
        let day: Int64 = 86_400_000
        func reading(_ kind: MeasurementKind, _ values: [(MeasurementPart, String)], daysAgo: Int64) -> MeasurementRecord {
            MeasurementRecord(
                id: "\(kind.rawValue)-\(daysAgo)", kind: kind, values: values.map { ObservationBuilder.Value(part: $0.0, literal: $0.1) },
                effectiveAt: now - daysAgo * day - 3_600_000, utcOffsetSeconds: 3600, syncState: .synced)
        }
        let weights = (0..<7).map { reading(.bodyWeight, [(.bodyWeight, String(80 + $0))], daysAgo: Int64(6 - $0)) }
        let latest: [MeasurementKind: MeasurementRecord] = [
            .bloodPressure: reading(.bloodPressure, [(.systolic, "182"), (.diastolic, "95"), (.pulseInPanel, "71")], daysAgo: 1),
            .bodyWeight: weights[6],
            .heartRate: reading(.heartRate, [(.heartRate, "71")], daysAgo: 1),
            .oxygenSaturation: reading(.oxygenSaturation, [(.oxygenSaturation, "94")], daysAgo: 2),
            .bodyTemperature: reading(.bodyTemperature, [(.bodyTemperature, "37.9")], daysAgo: 40),
            .respiratoryRate: reading(.respiratoryRate, [(.respiratoryRate, "18")], daysAgo: 3),
        ]
        return PatientOverview(
            patientID: patientID, contact: PatientContact(birthDate: "1946-03-14", phone: "+31 6 1234 5601", programme: "heart-failure"),
            readings: [.bodyWeight: weights, .bloodPressure: [latest[.bloodPressure]!]], latest: latest,
            answers: [.init(title: "PHQ-9", authored: now - 2 * day)])
    }

    @Test("an alert shows who to call beside why: age, phone and programme; o opens the patient's overview")
    func contactAndOverview() {
        var state = kiosk()
        var loaded = alerts
        loaded[1].contact = PatientContact(birthDate: "1946-03-14", phone: "+31 6 1234 5601", programme: "heart-failure")
        _ = reduce(&state, .kiosk(.alertsLoaded(loaded, cursor: cursor)))
        _ = press(&state, .enter)
        // 2026-01-15 (now): Ruth, born 14 March 1946, is 79.
        #expect(render(state).text.contains("79 years · tel. +31 6 1234 5601 · programme: heart failure"))
        #expect(press(&state, .character("o")) == [.loadPatientOverview(patientID: "p2")])
        #expect(render(state).text.contains("Ruth Example: overview"))
        #expect(render(state).text.contains("Loading the patient's measurements…"))
        _ = reduce(&state, .kiosk(.patientOverviewLoaded(overview(of: "someone-else"))))
        #expect(state.patientOverview == nil, "an answer for another patient is not shown")
        _ = reduce(&state, .kiosk(.patientOverviewLoaded(overview(of: "p2"))))
        let text = render(state).text
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("Blood pressure") && $0.contains("182/95 mmHg") && !$0.contains("71/min") })
        let weight = lines.first { $0.hasPrefix(" Weight") } ?? ""
        #expect(weight.contains("86 kg") && weight.contains("▁▂▃▅▆▇█"), "a week of rising weights ends the chart: [\(weight)]")
        #expect(lines.contains { $0.contains("Blood sugar") && $0.contains("none yet") }, "\(text)")
        #expect(lines.contains { $0.contains("Temperature") && $0.contains("37.9 °C  ") && $0.contains("6 Dec 2025  ") && $0.contains(String(repeating: "·", count: 30)) }, "the latest value however old: its day, and an empty chart")
        #expect(text.contains("Open alerts (1)") && text.contains("PHQ-9 total 17"), "open alerts from the queue; not the snoozed one of another patient")
        #expect(text.contains("Latest answers: PHQ-9"))
        #expect(press(&state, .character("r")) == [.loadPatientOverview(patientID: "p2")])
        #expect(state.patientOverview == nil)
        _ = press(&state, .escape)
        guard case .alertDetail = state.screen else { Issue.record("Esc goes back to the alert"); return }
        #expect(press(&state, .escape, .character("o")) == [.loadPatientOverview(patientID: "p2")], "o works from the queue too")
    }

    @Test("a Patient's contact: a current mobile number first, an old or ended one never; the programme; long text cut")
    func contactFromPatient() {
        let patient: JSONValue = [
            "resourceType": "Patient", "birthDate": "1946-03-14",
            "telecom": [
                ["system": "email", "value": "ruth@example.org"],
                ["system": "phone", "value": "+31 20 000 0000", "use": "old"],
                ["system": "phone", "value": "+31 20 111 1111", "use": "home", "period": ["end": "2020-01-01"]],
                ["system": "phone", "value": "+31 20 222 2222", "use": "home"],
                ["system": "phone", "value": " +31 6 1234 5601 ", "use": "mobile"],
            ],
            "extension": [["url": .string(VitalSignRules.programmeExtensionURL), "valueCode": "copd"]],
        ]
        #expect(PatientContact(patient: patient) == PatientContact(birthDate: "1946-03-14", phone: "+31 6 1234 5601", programme: "copd"))
        let hostile: JSONValue = ["telecom": [["system": "phone", "value": .string(String(repeating: "9", count: 10_000))]], "birthDate": 12]
        let contact = PatientContact(patient: hostile)
        #expect(contact.phone?.count == PatientContact.maximumLength && contact.birthDate == nil && contact.programme == nil)
        #expect(PatientContact(patient: [:]) == PatientContact())
    }

    @Test("an overview that could not be loaded says why, and r tries again")
    func overviewFailure() {
        var state = kiosk()
        _ = press(&state, .character("o"))
        var failed = overview(of: "p2")
        failed.failure = "The server cannot be reached."
        _ = reduce(&state, .kiosk(.patientOverviewLoaded(failed)))
        #expect(render(state).text.contains("The overview could not be loaded: The server cannot be reached."))
        #expect(press(&state, .character("r")) == [.loadPatientOverview(patientID: "p2")])
    }

    @Test("an answer that arrives after the lock (a refresh, a triage, an overview) shows nothing on the locked screen")
    func answersAfterLock() {
        var state = kiosk()
        _ = press(&state, .enter)
        _ = reduce(&state, .tick(now: now + 3 * 3_600_000))
        let locked = state.stack
        var loaded = alerts
        loaded[1].contact = PatientContact(phone: "+31 6 1234 5601")
        for action: Action in [
            .kiosk(.alertsLoaded(loaded, cursor: cursor)), .kiosk(.alertsChanged(loaded, cursor: cursor)), .kiosk(.triaged(loaded[1])),
            .kiosk(.triageConflict(current: loaded[1], attempted: AlertTriage(alertID: "b", version: 1, action: .handle, note: "x"))),
            .kiosk(.alertContextLoaded(AlertContext(patientID: "p2", kind: nil, readings: [], answers: []))), .kiosk(.patientOverviewLoaded(overview(of: "p2"))),
        ] {
            _ = reduce(&state, action)
            #expect(state.stack == locked, "\(action)")
            #expect(!render(state).text.contains("Ruth") && !render(state).text.contains("1234"), "\(action)")
        }
        #expect(state.alertContext == nil && state.patientOverview == nil)
    }

    @Test("locking forgets the overview")
    func overviewLock() {
        var state = kiosk()
        _ = press(&state, .character("o"))
        _ = reduce(&state, .kiosk(.patientOverviewLoaded(overview(of: "p2"))))
        _ = reduce(&state, .tick(now: now + 3 * 3_600_000))
        #expect(state.patientOverview == nil)
        #expect(!render(state).text.contains("Ruth"))
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
        _ = reduce(&state, .kiosk(.triageConflict(current: alerts[1], attempted: AlertTriage(alertID: "b", version: 1, action: .handle, note: "x"))))
        screens.append(render(state).text)
        _ = press(&state, .character("n"), .escape)
        state.stack = Array(state.stack.prefix(1))
        _ = press(&state, .character("o"))
        screens.append(render(state).text)
        _ = reduce(&state, .kiosk(.patientOverviewLoaded(overview(of: "p2"))))
        screens.append(render(state).text)
        #expect(screens.count == 6)
        for screen in screens {
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count <= 24)
            let hints = (lines.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? "").trimmingCharacters(in: .whitespaces)
            #expect(hints.hasSuffix("help") || hints.hasSuffix("Hilfe") || hints.hasSuffix("hulp"), "cut: [\(hints)]")
            // Nothing cut short (the loading line ends in an ellipsis of its own).
            #expect(!screen.replacingOccurrences(of: state.localizer.text(.kioskOverviewLoading), with: "").contains("…  "), "\(screen)")
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
