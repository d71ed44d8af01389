import Testing

@testable import BedsideCore

@Suite("Observation validation")
struct ResourceValidatorTests {
    let now = FHIRDateTime("2026-11-23T12:00:00Z")!.lowerBound
    var validator: ResourceValidator { ResourceValidator(now: now) }

    func observation(_ kind: MeasurementKind, _ values: [ObservationBuilder.Value], at effective: String = "2026-11-23T08:00:00+01:00") -> JSONValue {
        ObservationBuilder.observation(kind: kind, values: values, effective: effective, patientID: "p1", clientID: "c1")
    }

    func expressions(_ resource: JSONValue) -> [String] {
        validator.validate(resource, as: "Observation").compactMap(\.expression)
    }

    @Test("every kind Bedside records, in its unit, is accepted")
    func allKindsValid() {
        let samples: [(MeasurementKind, [ObservationBuilder.Value])] = [
            (.bloodPressure, [.init(part: .systolic, value: 135), .init(part: .diastolic, value: 85), .init(part: .pulseInPanel, value: 70)]),
            (.bodyWeight, [.init(part: .bodyWeight, literal: "82.40")]),
            (.heartRate, [.init(part: .heartRate, value: 64)]),
            (.oxygenSaturation, [.init(part: .oxygenSaturation, value: 96)]),
            (.bodyTemperature, [.init(part: .bodyTemperature, value: 37.2)]),
            (.respiratoryRate, [.init(part: .respiratoryRate, value: 16)]),
            (.glucose, [.init(part: .glucoseMolar, value: 6.1)]),
            (.glucose, [.init(part: .glucoseMass, value: 110)]),
        ]
        for (kind, values) in samples {
            #expect(validator.validate(observation(kind, values), as: "Observation").isEmpty, "\(kind)")
        }
    }

    @Test("one plausibility check: impossible outside the possible range (and for non-finite numbers), unusual outside the typical one")
    func plausibility() {
        let weight = MeasurementPart.bodyWeight
        #expect(weight.plausibility(of: weight.possibleRange.lowerBound) != .impossible)
        #expect(weight.plausibility(of: weight.possibleRange.lowerBound.nextDown) == .impossible)
        #expect(weight.plausibility(of: weight.possibleRange.upperBound.nextUp) == .impossible)
        #expect(weight.plausibility(of: (weight.typicalRange.lowerBound + weight.typicalRange.upperBound) / 2) == .typical)
        #expect(weight.plausibility(of: weight.typicalRange.upperBound.nextUp) == .unusual)
        #expect(weight.plausibility(of: .nan) == .impossible && weight.plausibility(of: .infinity) == .impossible)
        #expect(MeasurementPart.pressuresAreConsistent(systolic: 120, diastolic: 80))
        #expect(!MeasurementPart.pressuresAreConsistent(systolic: 80, diastolic: 80))
    }

    @Test("the server refuses exactly the values the check calls impossible, for every single-value kind, at both edges")
    func serverAgreesWithCheck() {
        let singles: [(MeasurementKind, MeasurementPart)] = MeasurementKind.allCases.compactMap { kind in
            kind.parts.count == 1 ? (kind, kind.parts[0]) : nil
        }
        #expect(singles.count >= 6)
        for (kind, part) in singles {
            for value in [part.possibleRange.lowerBound, part.possibleRange.upperBound, part.possibleRange.lowerBound - 1, part.possibleRange.upperBound + 1] {
                let refused = expressions(observation(kind, [.init(part: part, value: value)])).contains { $0.hasSuffix(".value") }
                #expect(refused == (part.plausibility(of: value) == .impossible), "\(kind) \(value)")
            }
        }
    }

    @Test("a wrong unit, an impossible value and a missing value each name their field")
    func fieldErrors() {
        var wrongUnit = observation(.bodyWeight, [.init(part: .bodyWeight, value: 80)]).objectValue!
        wrongUnit["valueQuantity"] = ["value": 176, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"]
        #expect(expressions(.object(wrongUnit)) == ["Observation.valueQuantity.code"])

        #expect(expressions(observation(.oxygenSaturation, [.init(part: .oxygenSaturation, value: 140)])) == ["Observation.valueQuantity.value"])
        #expect(expressions(observation(.bodyTemperature, [.init(part: .bodyTemperature, value: 3.7)])) == ["Observation.valueQuantity.value"])

        var noValue = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        noValue["valueQuantity"] = nil
        #expect(expressions(.object(noValue)) == ["Observation.valueQuantity"])

        var stringValue = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        stringValue["valueQuantity"] = ["value": "60", "system": "http://unitsofmeasure.org", "code": "/min"]
        #expect(expressions(.object(stringValue)) == ["Observation.valueQuantity.value"])
    }

    @Test("blood pressure needs systolic above diastolic, both present")
    func bloodPressure() {
        let inverted = observation(.bloodPressure, [.init(part: .systolic, value: 80), .init(part: .diastolic, value: 120)])
        #expect(expressions(inverted) == ["Observation.component"])
        let half = observation(.bloodPressure, [.init(part: .systolic, value: 120)])
        #expect(expressions(half) == ["Observation.component"])
    }

    @Test("any coding may carry the LOINC code, not only the first")
    func codingOrder() {
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["code"] = [
            "coding": [
                ["system": "http://snomed.info/sct", "code": "364075005"],
                ["system": "http://loinc.org", "code": "8867-4"],
            ]
        ]
        #expect(expressions(.object(object)).isEmpty)
        object["code"] = ["coding": [["system": "http://snomed.info/sct", "code": "364075005"]]]
        #expect(expressions(.object(object)) == ["Observation.code.coding"])
    }

    @Test("time: a time of day with an offset, not in the future")
    func effectiveTime() {
        let local = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-23T08:00:00")
        #expect(expressions(local) == ["Observation.effectiveDateTime"])
        let dateOnly = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-23")
        #expect(expressions(dateOnly) == ["Observation.effectiveDateTime"])
        let future = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-24T08:00:00Z")
        #expect(expressions(future) == ["Observation.effectiveDateTime"])
        let slightSkew = observation(.heartRate, [.init(part: .heartRate, value: 60)], at: "2026-11-23T12:10:00Z")
        #expect(expressions(slightSkew).isEmpty)
    }

    @Test("a withdrawn measurement needs no value")
    func enteredInError() {
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["status"] = "entered-in-error"
        object["valueQuantity"] = nil
        #expect(expressions(.object(object)).isEmpty)
        object["status"] = "done"
        #expect(expressions(.object(object)) == ["Observation.status", "Observation.valueQuantity"])
    }

    @Test("the resource type and subject are checked")
    func structure() {
        #expect(validator.validate(["resourceType": "Patient"], as: "Observation").first?.expression == "Observation.resourceType")
        #expect(validator.validate("text", as: "Observation").first?.code == "structure")
        var object = observation(.heartRate, [.init(part: .heartRate, value: 60)]).objectValue!
        object["subject"] = ["reference": "Group/g1"]
        #expect(expressions(.object(object)) == ["Observation.subject.reference"])
    }
}
