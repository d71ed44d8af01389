/// The vital signs Bedside records, with the LOINC codes and UCUM units they travel as.
///
/// Each kind has two ranges. `possibleRange` bounds what a living patient can show; anything outside it
/// is a typing error and is refused everywhere. `typicalRange` bounds what is common; outside it the
/// client asks the patient to confirm, because a real but unusual value must still be recordable.
public enum MeasurementKind: String, Sendable, CaseIterable, Codable, Hashable {
    case bloodPressure = "blood-pressure"
    case bodyWeight = "weight"
    case heartRate = "heart-rate"
    case oxygenSaturation = "oxygen-saturation"
    case bodyTemperature = "temperature"
    case respiratoryRate = "respiratory-rate"
    case glucose = "glucose"

    public static let loincSystem = "http://loinc.org"
    public static let ucumSystem = "http://unitsofmeasure.org"

    /// LOINC codes that identify this kind in `Observation.code`. The first is the one Bedside writes.
    public var loincCodes: [String] {
        switch self {
        case .bloodPressure: ["85354-9"]
        case .bodyWeight: ["29463-7"]
        case .heartRate: ["8867-4"]
        case .oxygenSaturation: ["2708-6", "59408-5"]
        case .bodyTemperature: ["8310-5"]
        case .respiratoryRate: ["9279-1"]
        // Serum or plasma glucose (2345-7 mass, 14749-6 moles), as laboratories and other systems send it,
        // is read as glucose too: for a patient's self-monitoring and its alerts the two agree closely
        // enough (within the 15 % that ISO 15197 allows a meter).
        case .glucose: ["15074-8", "2339-0", "2345-7", "14749-6"]
        }
    }

    /// The FHIR R4 vital-signs profile an Observation of this kind conforms to; nil for glucose, a
    /// laboratory value.
    public var vitalSignsProfile: String? {
        let base = "http://hl7.org/fhir/StructureDefinition/"
        return switch self {
        case .bloodPressure: base + "bp"
        case .bodyWeight: base + "bodyweight"
        case .heartRate: base + "heartrate"
        case .oxygenSaturation: base + "oxygensat"
        case .bodyTemperature: base + "bodytemp"
        case .respiratoryRate: base + "resprate"
        case .glucose: nil
        }
    }

    /// The LOINC display name.
    public var loincDisplay: String {
        switch self {
        case .bloodPressure: "Blood pressure panel with all children optional"
        case .bodyWeight: "Body weight"
        case .heartRate: "Heart rate"
        case .oxygenSaturation: "Oxygen saturation in Arterial blood"
        case .bodyTemperature: "Body temperature"
        case .respiratoryRate: "Respiratory rate"
        case .glucose: "Glucose [Moles/volume] in Blood"
        }
    }

    /// The kind a LOINC code stands for, if Bedside knows it.
    public init?(loincCode: String) {
        guard let kind = MeasurementKind.allCases.first(where: { $0.loincCodes.contains(loincCode) }) else {
            return nil
        }
        self = kind
    }

    /// The quantities one measurement of this kind holds: one for most kinds, two for blood pressure.
    public var parts: [MeasurementPart] {
        switch self {
        case .bloodPressure: [.systolic, .diastolic]
        case .bodyWeight: [.bodyWeight]
        case .heartRate: [.heartRate]
        case .oxygenSaturation: [.oxygenSaturation]
        case .bodyTemperature: [.bodyTemperature]
        case .respiratoryRate: [.respiratoryRate]
        case .glucose: [.glucoseMolar]
        }
    }
}

/// One quantity of a measurement: its LOINC code, its UCUM unit and the ranges it may take.
public struct MeasurementPart: Sendable, Hashable {
    public let loincCode: String
    public let display: String
    public let ucumCode: String
    /// Outside this range the value cannot be real and is refused.
    public let possibleRange: ClosedRange<Double>
    /// Outside this range the value is unusual: the client asks for confirmation.
    public let typicalRange: ClosedRange<Double>
    /// Digits after the decimal separator that make sense for this quantity.
    public let fractionDigits: Int

    public static let systolic = MeasurementPart(
        loincCode: "8480-6", display: "Systolic blood pressure", ucumCode: "mm[Hg]",
        possibleRange: 40...300, typicalRange: 80...200, fractionDigits: 0)
    public static let diastolic = MeasurementPart(
        loincCode: "8462-4", display: "Diastolic blood pressure", ucumCode: "mm[Hg]",
        possibleRange: 20...200, typicalRange: 40...120, fractionDigits: 0)
    public static let bodyWeight = MeasurementPart(
        loincCode: "29463-7", display: "Body weight", ucumCode: "kg",
        possibleRange: 1...400, typicalRange: 30...200, fractionDigits: 1)
    public static let heartRate = MeasurementPart(
        loincCode: "8867-4", display: "Heart rate", ucumCode: "/min",
        possibleRange: 20...300, typicalRange: 40...150, fractionDigits: 0)
    public static let oxygenSaturation = MeasurementPart(
        loincCode: "2708-6", display: "Oxygen saturation", ucumCode: "%",
        possibleRange: 40...100, typicalRange: 85...100, fractionDigits: 0)
    public static let bodyTemperature = MeasurementPart(
        loincCode: "8310-5", display: "Body temperature", ucumCode: "Cel",
        possibleRange: 25...45, typicalRange: 35...40, fractionDigits: 1)
    public static let respiratoryRate = MeasurementPart(
        loincCode: "9279-1", display: "Respiratory rate", ucumCode: "/min",
        possibleRange: 2...80, typicalRange: 8...30, fractionDigits: 0)
    public static let glucoseMolar = MeasurementPart(
        loincCode: "15074-8", display: "Glucose", ucumCode: "mmol/L",
        possibleRange: 0.5...60, typicalRange: 3...20, fractionDigits: 1)
    public static let glucoseMass = MeasurementPart(
        loincCode: "2339-0", display: "Glucose", ucumCode: "mg/dL",
        possibleRange: 9...1080, typicalRange: 54...360, fractionDigits: 0)
    /// Pulse recorded with a blood pressure reading, as a component of the panel.
    public static let pulseInPanel = MeasurementPart(
        loincCode: "8867-4", display: "Heart rate", ucumCode: "/min",
        possibleRange: 20...300, typicalRange: 40...150, fractionDigits: 0)

    /// The part for a LOINC code written at the top level of an Observation.
    public static func topLevel(loincCode: String) -> MeasurementPart? {
        switch loincCode {
        case "29463-7": .bodyWeight
        case "8867-4": .heartRate
        case "2708-6", "59408-5": .oxygenSaturation
        case "8310-5": .bodyTemperature
        case "9279-1": .respiratoryRate
        case "15074-8", "14749-6": .glucoseMolar
        case "2339-0", "2345-7": .glucoseMass
        default: nil
        }
    }

    /// The part for a LOINC code written as a component of a blood pressure panel.
    public static func bloodPressureComponent(loincCode: String) -> MeasurementPart? {
        switch loincCode {
        case "8480-6": .systolic
        case "8462-4": .diastolic
        case "8867-4": .pulseInPanel
        default: nil
        }
    }
}

extension MeasurementPart {
    /// Where a value of this quantity stands: refused, asked about, or as expected.
    public enum Plausibility: Sendable, Equatable {
        case typical
        /// Outside the typical range: the app asks the patient to confirm.
        case unusual
        /// Not a value this quantity can have (or not a finite number): refused everywhere.
        case impossible
    }

    /// The UCUM units an Observation may give this part in: the FHIR vital-signs profile's (body weight
    /// in kg, g or [lb_av]; body temperature in Cel or [degF]), else Bedside's own. Bedside writes, reads
    /// and range-checks only `ucumCode`, the first; the others are stored as they came.
    public var acceptedUCUMUnits: [String] {
        switch loincCode {
        case MeasurementPart.bodyWeight.loincCode: [ucumCode, "g", "[lb_av]"]
        case MeasurementPart.bodyTemperature.loincCode: [ucumCode, "[degF]"]
        default: [ucumCode]
        }
    }

    /// A value another system gave in one of `acceptedUCUMUnits`, in Bedside's own unit, to this part's
    /// `fractionDigits` (185 [lb_av] is 83.9 kg, 3250 g is 3.3 kg, 98.6 [degF] is 37 °C): the same
    /// quantity, so screens and rules can use it. nil for a unit it does not take or a value that is
    /// not a finite number; the stored Observation keeps what was sent.
    public func convertedLiteral(_ literal: String, from unit: String) -> String? {
        guard unit != ucumCode, acceptedUCUMUnits.contains(unit), let value = Double(literal), value.isFinite else { return nil }
        let converted: Double
        switch unit {
        case "[lb_av]": converted = value * 0.45359237
        case "g": converted = value / 1000
        case "[degF]": converted = (value - 32) * 5 / 9
        default: return nil
        }
        guard converted.isFinite, abs(converted) < 1e9 else { return nil }
        var scale = 1.0
        for _ in 0..<fractionDigits { scale *= 10 }
        return ((converted * scale).rounded() / scale).plainText
    }

    /// The one check of a value, made alike by the app's form, `bedside measure add` and the server.
    public func plausibility(of value: Double) -> Plausibility {
        guard value.isFinite, possibleRange.contains(value) else { return .impossible }
        return typicalRange.contains(value) ? .typical : .unusual
    }

    /// A blood pressure's lower value must be below its upper one; the one check of how parts relate.
    public static func pressuresAreConsistent(systolic: Double, diastolic: Double) -> Bool {
        diastolic < systolic
    }
}
