import BedsideCore
import Testing

@testable import BedsideUI

@Suite("History trend chart")
struct HistoryChartTests {
    let now: Int64 = 1_795_000_000_000

    func record(_ index: Int, _ values: [(MeasurementPart, String)], kind: MeasurementKind) -> MeasurementRecord {
        MeasurementRecord(
            id: "r\(index)", kind: kind, values: values.map { ObservationBuilder.Value(part: $0.0, literal: $0.1) },
            effectiveAt: now - Int64(index) * 86_400_000, utcOffsetSeconds: 3600)
    }

    /// The history screen of `kind` with `records` (newest first), at `width`x`height`.
    func screen(_ kind: MeasurementKind, _ records: [MeasurementRecord], width: Int = 80, height: Int = 24, language: Language = .en) -> [String] {
        var state = AppState(width: width, height: height, now: now, utcOffsetSeconds: 3600, language: language, hasAccount: true, server: "", idSeed: 1)
        _ = reduce(&state, .unlocked(SessionInfo(displayName: "Ann", email: "ann@example.org", server: "https://s")))
        var list = HistoryList(kind: kind)
        list.items = records
        list.total = records.count
        state.stack.append(.history(list))
        return render(state).lines
    }

    @Test("blood pressure: both components get rows, oldest left, with their ranges; it fits 80x24 and 120x40", arguments: [(80, 24), (120, 40)])
    func bloodPressure(_ width: Int, _ height: Int) throws {
        let readings = [(150, 95), (142, 91), (135, 85), (128, 80), (121, 76), (118, 70)]
        let records = readings.enumerated().map { index, pair in
            record(index, [(.systolic, String(pair.0)), (.diastolic, String(pair.1))], kind: .bloodPressure)
        }
        let lines = screen(.bloodPressure, records, width: width, height: height)
        #expect(lines.count == height && lines.allSatisfy { $0.reduce(0) { $0 + TextWidth.columns(of: $1) } <= width })
        let title = try #require(lines.firstIndex { $0.contains("Trend of the 6 shown, oldest left: 118–150 / 70–95 mmHg") }, "\(lines.joined(separator: "\n"))")
        let chart = lines[(title + 1)...(title + 4)]
        #expect(chart.allSatisfy { $0.contains { TextChart.blocks.dropFirst().contains($0) } }, "\(chart)")
        // Newest (150/95) is on the right: the top row of each component is full there, not on the left.
        let upperTop = chart[chart.startIndex].trimmingCharacters(in: .whitespaces)
        #expect(upperTop.last != " " && upperTop.first != "█", "\(upperTop)")
        #expect(lines.last?.isEmpty == false)
    }

    @Test("one component (weight) in four rows; Dutch numbers; one reading or none draws no chart")
    func weight() {
        let records = ["80.5", "81.2", "79.9", "80.1"].enumerated().map { record($0.offset, [(.bodyWeight, $0.element)], kind: .bodyWeight) }
        let lines = screen(.bodyWeight, records, language: .nl)
        #expect(lines.contains { $0.contains("Verloop van de 4 getoonde, oudste links: 79,9–81,2 kg") }, "\(lines.joined(separator: "\n"))")
        #expect(!screen(.bodyWeight, Array(records.prefix(1))).contains { $0.contains("Trend of the") })
        #expect(!screen(.bodyWeight, []).contains { $0.contains("Trend of the") })
    }

    @Test("absurd values from a server leave their column empty; the screen still draws")
    func absurd() {
        let records = ["1e308", "nan", "80", "-1e308", "81"].enumerated().map { record($0.offset, [(.bodyWeight, $0.element)], kind: .bodyWeight) }
        let lines = screen(.bodyWeight, records)
        #expect(lines.count == 24)
    }

    @Test("a short screen keeps every row for the list; paging moves by the rows shown")
    func layout() {
        #expect(HistoryLayout.chartLines(height: 19) == 0)
        #expect(HistoryLayout.visibleRows(height: 19) == 11)
        #expect(HistoryLayout.visibleRows(height: 24) == 11)
        #expect(HistoryLayout.visibleRows(height: 40) == 27)
    }
}
