import BedsideCore

/// The form for one measurement: its value fields, the time and a note. Keeps what was typed when a
/// field is wrong, so a mistake never costs the rest of the form.
public struct MeasurementForm: Sendable, Equatable {
    public enum FieldID: Sendable, Equatable {
        case value(MeasurementPart)
        case time
        case note
    }

    public let kind: MeasurementKind
    /// The measurement being edited, or nil for a new one.
    public let editing: MeasurementRecord?
    public var ids: [FieldID]
    public var fields: [TextField]
    public var focus = 0
    /// Parts that may be left empty (pulse with a blood pressure).
    public let optionalParts: Set<MeasurementPart>
    /// Where the time is entered: its offset is the one of the instant typed, not of today.
    public let zone: LocalZone
    /// The time field as it was opened: left unchanged, an edited reading keeps its instant and offset.
    let openedTime: String
    public var message: String?

    public init(kind: MeasurementKind, glucosePart: MeasurementPart, now: Int64, zone: LocalZone, editing: MeasurementRecord? = nil) {
        self.kind = kind
        self.editing = editing
        self.zone = zone
        var parts = kind == .glucose ? [editing?.values.first?.part ?? glucosePart] : kind.parts
        if kind == .bloodPressure { parts.append(.pulseInPanel) }
        optionalParts = kind == .bloodPressure ? [.pulseInPanel] : []
        ids = parts.map { .value($0) } + [.time, .note]
        fields = parts.map { part in TextField(editing?.literal(part) ?? "", maxLength: 10) }
        let time = editing?.effectiveAt ?? now
        openedTime = CivilTime(epochMilliseconds: time, utcOffsetSeconds: editing?.utcOffsetSeconds ?? zone.offset(at: time)).editable
        fields.append(TextField(openedTime, maxLength: 16))
        fields.append(TextField(editing?.note ?? "", maxLength: 500))
    }

    public mutating func next() { focus = (focus + 1) % fields.count }
    public mutating func previous() { focus = (focus + fields.count - 1) % fields.count }

    /// A value outside the usual range, which the patient must confirm.
    public struct Unusual: Sendable, Equatable {
        public var part: MeasurementPart
        public var literal: String
    }

    public enum Outcome: Sendable, Equatable {
        case invalid
        case valid(MeasurementRecord, unusual: [Unusual])
    }

    /// Checks every field, marking each wrong one with its reason.
    public mutating func validate(language: Language, now: Int64, newID: String) -> Outcome {
        let localizer = Localizer(language)
        var values: [ObservationBuilder.Value] = []
        var unusual: [Unusual] = []
        var effectiveAt = now
        var offset = zone.offset(at: now)
        var valid = true
        for index in fields.indices {
            fields[index].error = nil
            switch ids[index] {
            case .value(let part):
                let typed = fields[index].text.trimmingCharacters(in: " ")
                if typed.isEmpty {
                    if !optionalParts.contains(part) {
                        fields[index].error = localizer.text(.errorEnterValue)
                        valid = false
                    }
                    continue
                }
                guard let literal = language.parseNumber(typed), let number = Double(literal) else {
                    fields[index].error = localizer.text(.errorNotNumber, typed)
                    valid = false
                    continue
                }
                let plausibility = part.plausibility(of: number)
                guard plausibility != .impossible else {
                    fields[index].error = localizer.text(
                        .errorImpossible, language.number(literal), part.displayUnit,
                        language.number(Self.format(part.possibleRange.lowerBound)), language.number(Self.format(part.possibleRange.upperBound)))
                    valid = false
                    continue
                }
                values.append(ObservationBuilder.Value(part: part, literal: literal))
                if plausibility == .unusual { unusual.append(Unusual(part: part, literal: literal)) }
            case .time:
                guard let wallClock = CivilTime.parse(fields[index].text, utcOffsetSeconds: 0) else {
                    fields[index].error = localizer.text(.errorTimeFormat)
                    valid = false
                    continue
                }
                var parsed = zone.instant(wallClock: wallClock)
                if let editing, fields[index].text.trimmingCharacters(in: " ") == openedTime {
                    parsed = (editing.effectiveAt, editing.utcOffsetSeconds)
                }
                if parsed.epochMilliseconds > now + 5 * 60_000 {
                    fields[index].error = localizer.text(.errorTimeFuture)
                    valid = false
                    continue
                }
                (effectiveAt, offset) = parsed
            case .note:
                break
            }
        }
        if kind == .bloodPressure,
            let systolic = values.first(where: { $0.part == .systolic }).flatMap({ Double($0.literal) }),
            let diastolic = values.first(where: { $0.part == .diastolic }).flatMap({ Double($0.literal) }),
            !MeasurementPart.pressuresAreConsistent(systolic: systolic, diastolic: diastolic),
            let index = ids.firstIndex(of: .value(.diastolic))
        {
            fields[index].error = localizer.text(.errorDiastolicHigher)
            valid = false
        }
        guard valid else {
            message = localizer.text(.errorFixFields)
            if let firstWrong = fields.firstIndex(where: { $0.error != nil }) { focus = firstWrong }
            return .invalid
        }
        message = nil
        let noteText = fields[fields.count - 1].text.trimmingCharacters(in: " ")
        let record = MeasurementRecord(
            id: editing?.id ?? newID, kind: kind, values: values, effectiveAt: effectiveAt, utcOffsetSeconds: offset,
            note: noteText.isEmpty ? nil : noteText, syncState: editing?.syncState ?? .pending, serverID: editing?.serverID,
            serverVersion: editing?.serverVersion)
        return .valid(record, unusual: unusual)
    }

    public static func format(_ value: Double) -> String {
        DecimalText.plain(value)
    }
}

extension MeasurementPart {
    /// The unit as a patient reads it.
    public var displayUnit: String {
        switch ucumCode {
        case "mm[Hg]": "mmHg"
        case "/min": "/min"
        case "Cel": "°C"
        default: ucumCode
        }
    }

    var phrase: Phrase {
        switch self {
        case .systolic: .partSystolic
        case .diastolic: .partDiastolic
        case .pulseInPanel: .partPulse
        default: .partValue
        }
    }
}
