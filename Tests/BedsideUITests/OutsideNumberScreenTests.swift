import BedsideCore
import Testing

@testable import BedsideUI

/// Huge, infinite and NaN values from a server reach the kiosk chart and the forms; they are shown as
/// text and never trap (`Int(someDouble)` traps even in release builds).
@Suite("Absurd numbers on screen")
struct OutsideNumberScreenTests {
    let now: Int64 = 1_768_469_400_000

    @Test("a value too large for Int is still written out", arguments: [1e19, -1e19, 1e300, Double.infinity, -Double.infinity, Double.nan])
    func formFormat(_ value: Double) {
        #expect(!MeasurementForm.format(value).isEmpty)
    }

    @Test("the chart scales any finite values, leaves infinite and NaN days empty, and never traps")
    func chart() {
        let rows = TextChart.render([-1.7e308, 1.7e308, .nan, .infinity, 0], rows: 3)
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.count == 5 })
        #expect(rows[2].dropFirst(2).prefix(2) == "··", "NaN and infinity are shown as days without a value")
        #expect(TextChart.render([.nan], rows: 2).isEmpty, "nothing to scale")
        let days = TextChart.daily([(Int64.max, 1), (Int64.min, 2), (now, 3)], days: 30, endingAt: now, zone: .fixed(50_400))
        #expect(days.last == 3)
        #expect(days.compactMap { $0 }.count == 1)
    }

    @Test("the kiosk's alert detail shows readings of 1e19, -1e19 and 1e400 without trapping")
    func kioskChart() {
        var state = AppState(width: 80, height: 24, now: now, utcOffsetSeconds: 3600, language: .en, hasAccount: false, server: "", idSeed: 1)
        state.kiosk = true
        _ = reduce(&state, .loggedIn(SessionInfo(displayName: "Nurse Anna", email: "anna@example.org", server: "https://s")))
        let alert = KioskAlert(
            id: "a", version: 1, patientID: "p1", patientName: "Marie Jansen", priority: .orange, status: "active",
            summary: "Weight 1e19 kg", raisedAt: now - 3_600_000)
        _ = reduce(&state, .kiosk(.alertsLoaded([alert], cursor: QueueCursor.start(answeredAt: now))))
        _ = press(&state, .enter)
        let readings = ["1e19", "-1e19", "1e400", "nan", "72.5"].enumerated().map { index, literal in
            MeasurementRecord(
                id: "r\(index)", kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: literal)],
                effectiveAt: now - Int64(index) * 86_400_000, utcOffsetSeconds: 3600)
        }
        _ = reduce(&state, .kiosk(.alertContextLoaded(AlertContext(patientID: "p1", kind: .bodyWeight, readings: readings, answers: []))))
        let text = render(state).text
        #expect(text.contains("Marie Jansen"))
        #expect(text.contains("1e+19") || text.contains("1.0e+19") || text.contains("10000000000000000000"), "\(text)")
    }
}
