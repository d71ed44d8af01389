/// The HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`), which tells
/// the client the server's time: the way to notice a computer whose clock is wrong.
public enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// The IMF-fixdate of an instant (whole seconds, rounded down): what the server writes in `Date`
    /// and `Last-Modified`, and `parse` reads back.
    public static func format(epochMilliseconds: Int64) -> String {
        // Within the four-digit years the format has (1000-01-01 to 9999-12-31), so `parse` reads it back.
        let clamped = min(max(epochMilliseconds, -30_610_224_000_000), 253_402_300_799_999)
        let seconds = CivilCalendar.floorDivide(clamped, 1000)
        let days = CivilCalendar.floorDivide(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let date = CivilCalendar.date(fromDays: Int(days))
        // 1970-01-01 was a Thursday.
        let weekday = weekdays[Int(((days % 7) + 7 + 4) % 7)]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(weekday), \(two(date.day)) \(months[date.month - 1]) \(date.year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }

    /// Milliseconds since the epoch, or nil for anything that is not an IMF-fixdate.
    ///
    /// The year has exactly four digits, as the format says, and is at least 1000: a server's year 99999 or
    /// 2^63 is not a clock to compare with, and would overflow the arithmetic below.
    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[3].utf8.count == 4, parts[3].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let day = Int(parts[1]), let year = Int(parts[3]), year >= 1000,
            let monthIndex = months.firstIndex(of: String(parts[2]))
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0...23).contains(clock[0]), (0...59).contains(clock[1]),
            (0...60).contains(clock[2])
        else { return nil }
        let days = Int64(CivilCalendar.days(year: year, month: monthIndex + 1, day: day))
        return (days * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])) * 1000
    }
}
