import BedsideCore

/// A small bar chart in text: one column per day, heights in eighths of a row with block characters,
/// so 30 days of values fit in 30 columns and a few rows. Days without a value stay empty but for a
/// dot on the base line, so a gap in measuring is visible too.
enum TextChart {
    static let blocks: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Rows from top to bottom. Values are scaled between their lowest and highest; equal values stand
    /// at half height.
    static func render(_ values: [Double?], rows: Int) -> [String] {
        // Values come from a server: an infinite or NaN one has no height and is shown as a day without a value.
        let finite = values.map { $0.flatMap { $0.isFinite ? $0 : nil } }
        let present = finite.compactMap { $0 }
        guard rows > 0, let low = present.min(), let high = present.max() else { return [] }
        let levels = rows * 8
        // In halves, so that the span of -1.7e308…1.7e308 does not overflow to infinity.
        let span = high / 2 - low / 2
        let heights: [Int?] = finite.map { value in
            guard let value else { return nil }
            if span == 0 { return levels / 2 }
            let level = ((value / 2 - low / 2) / span * Double(levels - 1)).rounded()
            // Between 0 and levels - 1 by construction; Int(exactly:) rather than a trap if that were ever wrong.
            return max(1, (Int(exactly: min(max(level, 0), Double(levels - 1))) ?? 0) + 1)
        }
        return (0..<rows).map { row in
            let floor = (rows - 1 - row) * 8
            return String(heights.map { height -> Character in
                guard let height else { return row == rows - 1 ? "·" : " " }
                return blocks[max(0, min(8, height - floor))]
            })
        }
    }

    /// The value each of the last `days` days ended with (the day's last reading), oldest first.
    static func daily(_ readings: [(at: Int64, value: Double)], days: Int, endingAt now: Int64, zone: LocalZone) -> [Double?] {
        let dayLength: Int64 = 86_400_000
        let today = (now + Int64(zone.offset(at: now)) * 1000) / dayLength
        var result = [Double?](repeating: nil, count: days)
        for reading in readings.sorted(by: { $0.at < $1.at }) {
            // Each reading on the day the wall clock showed then. A time from a server can be anything;
            // one that overflows is on no day of the chart.
            let (local, overflow) = reading.at.addingReportingOverflow(Int64(zone.offset(at: reading.at)) * 1000)
            guard !overflow else { continue }
            let index = Int(local / dayLength - today) + days - 1
            if result.indices.contains(index) { result[index] = reading.value }
        }
        return result
    }
}
