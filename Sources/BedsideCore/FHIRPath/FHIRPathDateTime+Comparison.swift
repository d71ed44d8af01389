/// FHIRPath's ordering of dates and times, which knows about precision: `@2024-01 < @2024-02-15`
/// is true, but whether `@2024-01` equals `@2024-01-15` is unknown (`nil`).
extension FHIRPathDateTime {
    /// -1, 0 or 1; `nil` when the values agree as far as both go but one goes further.
    /// Date-times that both have a time of day are compared in UTC; one without an offset is taken to be
    /// at `defaultOffset` (the evaluation's local offset).
    static func compare(_ lhs: FHIRPathDateTime, _ rhs: FHIRPathDateTime, defaultOffset: Int) -> Int? {
        var left = lhs
        var right = rhs
        if left.precision >= .hour, right.precision >= .hour {
            left = left.inUTC(defaultOffset: defaultOffset)
            right = right.inUTC(defaultOffset: defaultOffset)
        }
        let leftParts = left.comparableComponents
        let rightParts = right.comparableComponents
        for (leftPart, rightPart) in zip(leftParts, rightParts) where leftPart != rightPart {
            return leftPart < rightPart ? -1 : 1
        }
        return leftParts.count == rightParts.count ? 0 : nil
    }

    /// Year, month, day, hour, minute, and seconds with milliseconds as one component, down to `precision`.
    var comparableComponents: [Int] {
        let all = [year, month, day, hour, minute, second * 1000 + millisecond]
        return Array(all.prefix(min(precision, .second).rawValue + 1))
    }

    /// The same instant with offset zero.
    func inUTC(defaultOffset: Int) -> FHIRPathDateTime {
        let offset = utcOffsetSeconds ?? defaultOffset
        guard precision >= .hour else { return self }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return FHIRPathDateTime(epochMilliseconds: seconds * 1000 + Int64(millisecond), utcOffsetSeconds: 0, precision: precision)
    }

    /// The date and time `epochMilliseconds` after 1970-01-01T00:00:00Z, as seen at `utcOffsetSeconds`.
    init(epochMilliseconds: Int64, utcOffsetSeconds: Int, precision: Precision = .millisecond) {
        let offset = Int64(Swift.max(-86_400, Swift.min(86_400, utcOffsetSeconds)))
        let (shifted, overflow) = epochMilliseconds.addingReportingOverflow(offset * 1000)
        let local = overflow ? epochMilliseconds : shifted
        let days = CivilCalendar.floorDivide(local, 86_400_000)
        let withinDay = Int(local - days * 86_400_000)
        let (year, month, day) = CivilCalendar.date(fromDays: Int(days))
        self.init(
            year: year, month: month, day: day, hour: withinDay / 3_600_000, minute: withinDay / 60_000 % 60,
            second: withinDay / 1000 % 60, millisecond: withinDay % 1000, precision: precision, utcOffsetSeconds: Int(offset))
    }
}

extension FHIRPathTime {
    /// -1, 0 or 1; `nil` when one is more precise and they agree as far as the other goes.
    static func compare(_ lhs: FHIRPathTime, _ rhs: FHIRPathTime) -> Int? {
        let leftParts = lhs.comparableComponents
        let rightParts = rhs.comparableComponents
        for (leftPart, rightPart) in zip(leftParts, rightParts) where leftPart != rightPart {
            return leftPart < rightPart ? -1 : 1
        }
        return leftParts.count == rightParts.count ? 0 : nil
    }
}
