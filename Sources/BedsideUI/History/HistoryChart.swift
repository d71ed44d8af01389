import BedsideCore

/// The history screen's layout, shared by the reducer (how far a page scrolls) and the view.
enum HistoryLayout {
    /// Lines the trend chart takes under the list: a title and four chart rows (blood pressure: upper
    /// and lower, two rows each). None on a screen too short for it.
    static func chartLines(height: Int) -> Int { height >= 20 ? 5 : 0 }

    /// Rows of the list.
    static func visibleRows(height: Int) -> Int { max(1, height - 8 - chartLines(height: height)) }
}

/// The trend of the readings on screen, as the kiosk's alert chart draws it: one column (or a few) per
/// reading, oldest on the left, heights in block characters; each component of a blood pressure gets
/// its own rows. Values the screen cannot place (not numbers, not finite) leave their column empty.
struct HistoryChart {
    struct Series {
        var values: [Double?]
        var rows: Int
    }

    var series: [Series]
    var range: String

    /// For `records` newest first, as the list shows them; nil when there is nothing to draw.
    init?(_ records: [MeasurementRecord], kind: MeasurementKind, language: Language) {
        let oldestFirst = Array(records.reversed())
        let parts: [MeasurementPart] = kind == .bloodPressure ? [.systolic, .diastolic] : (oldestFirst.last?.values.first?.part).map { [$0] } ?? []
        guard !parts.isEmpty else { return nil }
        series = parts.map { part in
            Series(values: oldestFirst.map { record in record.literal(part).flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil } }, rows: parts.count == 1 ? 4 : 2)
        }
        let ranges = series.compactMap { series -> String? in
            let present = series.values.compactMap { $0 }
            guard let low = present.min(), let high = present.max() else { return nil }
            return language.number(DecimalText.oneDecimal(low)) + "–" + language.number(DecimalText.oneDecimal(high))
        }
        guard !ranges.isEmpty else { return nil }
        range = ranges.joined(separator: " / ") + " " + parts[0].displayUnit
    }

    /// The chart's lines, each `width` columns at most.
    func lines(width: Int) -> [String] {
        guard let count = series.first?.values.count, count > 0 else { return [] }
        let repeatCount = max(1, min(3, width / count))
        return series.flatMap { series in
            TextChart.render(Array(series.values.prefix(max(1, width))), rows: series.rows).map { line in
                String(line.flatMap { Array(repeating: $0, count: repeatCount) })
            }
        }
    }
}
