/// A patient's own rules are data written by hand (`bedside-server rules set --file`): before they are
/// kept, every problem is named, where it is, so that nothing half-right ever decides about alerts.
extension VitalSignRules {
    /// What is wrong with these rules, each naming its place (`thresholds[2] (systolic)`); empty if
    /// nothing is.
    public var problems: [String] {
        var problems: [String] = []
        if programme.trimmingCharacters(in: " ").isEmpty { problems.append("programme: name the programme these rules are based on.") }
        var ids = Set<String>()
        for (index, rule) in thresholds.enumerated() {
            let place = "thresholds[\(index)]" + (rule.id.isEmpty ? "" : " (\(rule.id))")
            problems += Self.identity(rule.id, part: rule.part, place: place, ids: &ids)
            let bands = [rule.redAtOrAbove, rule.orangeAtOrAbove, rule.orangeBelow, rule.redBelow]
            if bands.allSatisfy({ $0 == nil }) {
                problems.append("\(place): give at least one of redAtOrAbove, orangeAtOrAbove, orangeBelow, redBelow.")
            }
            if let part = Self.part(rule.part) {
                for (name, limit) in [("redAtOrAbove", rule.redAtOrAbove), ("orangeAtOrAbove", rule.orangeAtOrAbove),
                                      ("orangeBelow", rule.orangeBelow), ("redBelow", rule.redBelow)]
                where limit.map({ !part.possibleRange.contains($0) }) ?? false {
                    problems.append("\(place): \(name) \(Self.format(limit ?? 0)) is outside what a \(part.display.lowercased()) can be (\(Self.format(part.possibleRange.lowerBound))–\(Self.format(part.possibleRange.upperBound)) \(part.ucumCode)).")
                }
            }
            if let red = rule.redAtOrAbove, let orange = rule.orangeAtOrAbove, red < orange {
                problems.append("\(place): redAtOrAbove (\(Self.format(red))) must not be below orangeAtOrAbove (\(Self.format(orange))).")
            }
            if let red = rule.redBelow, let orange = rule.orangeBelow, red > orange {
                problems.append("\(place): redBelow (\(Self.format(red))) must not be above orangeBelow (\(Self.format(orange))).")
            }
            let highest = [rule.orangeBelow, rule.redBelow].compactMap { $0 }.max()
            let lowest = [rule.orangeAtOrAbove, rule.redAtOrAbove].compactMap { $0 }.min()
            if let highest, let lowest, highest > lowest {
                problems.append("\(place): the low bands (below \(Self.format(highest))) overlap the high ones (from \(Self.format(lowest))).")
            }
        }
        for (index, rule) in trends.enumerated() {
            let place = "trends[\(index)]" + (rule.id.isEmpty ? "" : " (\(rule.id))")
            problems += Self.identity(rule.id, part: rule.part, place: place, ids: &ids)
            if rule.change == 0 || !rule.change.isFinite { problems.append("\(place): change must be a rise (positive) or a fall (negative), not 0.") }
            if !(1...30).contains(rule.withinDays) { problems.append("\(place): withinDays must be 1 to 30 (it is \(rule.withinDays)).") }
            if AlertPriority(rawValue: rule.priority) == nil {
                problems.append("\(place): priority must be red, orange or gray (it is '\(rule.priority)').")
            }
        }
        if let hours = measurementOverdueHours, !(1...720).contains(hours) {
            problems.append("measurementOverdueHours must be 1 to 720 hours, or left out for none (it is \(hours)).")
        }
        return problems
    }

    private static func identity(_ id: String, part: String, place: String, ids: inout Set<String>) -> [String] {
        var problems: [String] = []
        if id.trimmingCharacters(in: " ").isEmpty {
            problems.append("\(place): give the rule an id (it names the rule's Flags).")
        } else if !ids.insert(id).inserted {
            problems.append("\(place): the id '\(id)' is used twice; each rule needs its own (one open Flag per patient and rule).")
        }
        if self.part(part) == nil {
            problems.append("\(place): part '\(part)' is not a LOINC code of a measured value (systolic 8480-6, diastolic 8462-4, weight 29463-7, heart rate 8867-4, SpO2 2708-6, temperature 8310-5, breathing 9279-1, glucose 15074-8 or 2339-0).")
        }
        return problems
    }

    private static func part(_ code: String) -> MeasurementPart? {
        MeasurementPart.topLevel(loincCode: code) ?? MeasurementPart.bloodPressureComponent(loincCode: code)
    }
}
