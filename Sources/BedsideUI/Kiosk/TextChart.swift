/// A small bar chart in text: one column per day, heights in eighths of a row with block characters,
/// so 30 days of values fit in 30 columns and a few rows. Days without a value stay empty but for a
/// dot on the base line, so a gap in measuring is visible too.
enum TextChart {
    static let blocks: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Rows from top to bottom. Values are scaled between their lowest and highest; equal values stand
    /// at half height.
    static func render(_ values: [Double?], rows: Int) -> [String] {
        let present = values.compactMap { $0 }
        guard rows > 0, let low = present.min(), let high = present.max() else { return [] }
        let levels = rows * 8
        let heights: [Int?] = values.map { value in
            guard let value else { return nil }
            if high == low { return levels / 2 }
            return max(1, Int(((value - low) / (high - low) * Double(levels - 1)).rounded()) + 1)
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
    static func daily(_ readings: [(at: Int64, value: Double)], days: Int, endingAt now: Int64, utcOffsetSeconds: Int) -> [Double?] {
        let dayLength: Int64 = 86_400_000
        let offset = Int64(utcOffsetSeconds) * 1000
        let today = (now + offset) / dayLength
        var result = [Double?](repeating: nil, count: days)
        for reading in readings.sorted(by: { $0.at < $1.at }) {
            let index = Int((reading.at + offset) / dayLength - today) + days - 1
            if result.indices.contains(index) { result[index] = reading.value }
        }
        return result
    }
}
