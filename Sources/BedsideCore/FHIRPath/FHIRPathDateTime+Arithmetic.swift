/// Adding calendar durations to dates, date-times and times (`today() - 18 years`).
///
/// The duration is applied to the value filled out with its earliest missing components, and the
/// result is cut back to the value's precision, so `@2024 + 24 months` is `@2026` and
/// `@2024-03-01 + 23 hours` stays `@2024-03-01`. Adding a month to 31 January gives the last day of
/// February. Fractions of years, months, weeks and days are dropped.
extension FHIRPathDateTime {
    func adding(_ quantity: FHIRPathQuantity) -> FHIRPathDateTime? {
        guard let unit = FHIRPathUnits.calendarUnit(quantity.unit) ?? Self.ucumDuration(quantity.unit) else { return nil }
        switch unit {
        case .year, .month:
            guard let amount = quantity.value.truncated().intValue, abs(amount) < 1_000_000 else { return nil }
            let total = year * 12 + (month - 1) + (unit == .year ? amount * 12 : amount)
            let newYear = Int(CivilCalendar.floorDivide(Int64(total), 12))
            let newMonth = total - newYear * 12 + 1
            guard (1...9999).contains(newYear) else { return nil }
            return FHIRPathDateTime(
                year: newYear, month: newMonth, day: Swift.min(day, CivilCalendar.daysIn(month: newMonth, year: newYear)),
                hour: hour, minute: minute, second: second, millisecond: millisecond, precision: precision,
                utcOffsetSeconds: utcOffsetSeconds)
        default:
            guard let milliseconds = Self.milliseconds(quantity.value, unit) else { return nil }
            let days = CivilCalendar.days(year: year, month: month, day: day)
            let start = Int64(days) * 86_400_000 + Int64(((hour * 60 + minute) * 60 + second) * 1000 + millisecond)
            let (end, overflow) = start.addingReportingOverflow(milliseconds)
            guard !overflow else { return nil }
            let moved = FHIRPathDateTime(epochMilliseconds: end, utcOffsetSeconds: 0, precision: precision)
            guard (1...9999).contains(moved.year) else { return nil }
            return FHIRPathDateTime(
                year: moved.year, month: moved.month, day: moved.day, hour: moved.hour, minute: moved.minute, second: moved.second,
                millisecond: moved.millisecond, precision: precision, utcOffsetSeconds: utcOffsetSeconds)
        }
    }

    /// UCUM duration codes that FHIRPath accepts in date arithmetic as the calendar units.
    static func ucumDuration(_ code: String) -> FHIRPathUnits.CalendarUnit? {
        FHIRPathUnits.CalendarUnit.allCases.first { $0.ucumCode == code }
    }

    /// A week-or-shorter duration in milliseconds; weeks and days are whole.
    static func milliseconds(_ amount: FHIRPathDecimal, _ unit: FHIRPathUnits.CalendarUnit) -> Int64? {
        let perUnit: Int
        var amount = amount
        switch unit {
        case .week:
            perUnit = 604_800_000
            amount = amount.truncated()
        case .day:
            perUnit = 86_400_000
            amount = amount.truncated()
        case .hour: perUnit = 3_600_000
        case .minute: perUnit = 60_000
        case .second: perUnit = 1000
        case .millisecond: perUnit = 1
        case .year, .month: return nil
        }
        guard let total = amount.multiplied(by: FHIRPathDecimal(perUnit))?.rounded(toPlaces: 0).intValue else { return nil }
        return Int64(total)
    }
}

extension FHIRPathTime {
    /// The time of day `quantity` later, wrapping at midnight; only hours and shorter apply.
    func adding(_ quantity: FHIRPathQuantity) -> FHIRPathTime? {
        guard let unit = FHIRPathUnits.calendarUnit(quantity.unit) ?? FHIRPathDateTime.ucumDuration(quantity.unit),
            [.hour, .minute, .second, .millisecond].contains(unit),
            let milliseconds = FHIRPathDateTime.milliseconds(quantity.value, unit)
        else { return nil }
        let day: Int64 = 86_400_000
        let start = Int64(((hour * 60 + minute) * 60 + second) * 1000 + millisecond)
        let end = Int(((start + milliseconds % day) % day + day) % day)
        return FHIRPathTime(
            hour: end / 3_600_000, minute: end / 60_000 % 60, second: end / 1000 % 60, millisecond: end % 1000, precision: precision)
    }
}
