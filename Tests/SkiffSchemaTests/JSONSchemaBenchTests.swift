import Foundation
import SkiffJSON
import SkiffSchema
import Testing

/// Every `tests` instance of ../shared/data/jsonschemabench-dev must be classified exactly as
/// its `valid` flag says (300 schemas in five dialects, 384 valid and 692 invalid instances).
@Suite struct JSONSchemaBenchTests {
    static let subsets = [
        "Glaiveai2K", "Github_trivial", "Github_easy", "Github_medium", "Github_hard", "Github_ultra", "Kubernetes",
        "Snowplow", "JsonSchemaStore", "WashingtonPost",
    ]

    /// The corpus' labels come from the Python and Rust validators with format checking on.
    static let options: SchemaOptions = {
        var o = SchemaOptions()
        o.formatAssertion = true
        return o
    }()

    @Test(.enabled(if: TestData.exists(TestData.bench)))
    func everyInstanceClassified() throws {
        var valid = 0
        var invalid = 0
        var schemas = 0
        var failures: [String] = []
        for subset in Self.subsets {
            var right = 0
            var total = 0
            for file in TestData.jsonFiles(in: TestData.bench.appendingPathComponent(subset)) {
                let doc = try TestData.load(file)
                guard let schemaValue = doc["schema"], case .array(let tests)? = doc["tests"] else { continue }
                schemas += 1
                let name = "\(subset)/\(file.lastPathComponent)"
                let schema: JSONSchema
                do {
                    schema = try JSONSchema(schemaValue, options: Self.options)
                } catch {
                    failures.append("\(name): schema not compiled: \(error)")
                    total += tests.count
                    continue
                }
                for (i, t) in tests.enumerated() {
                    guard let data = t["data"], let expected = t["valid"]?.boolValue else { continue }
                    total += 1
                    if expected { valid += 1 } else { invalid += 1 }
                    do {
                        let got = try schema.isValid(data)
                        let detailed = try schema.validate(data)
                        if got == expected && detailed.isValid == expected {
                            right += 1
                        } else {
                            let why = detailed.errors.prefix(2).map(\.description).joined(separator: "; ")
                            failures.append("\(name) test \(i): expected \(expected), got \(got) \(why)")
                        }
                    } catch {
                        failures.append("\(name) test \(i): \(error)")
                    }
                }
            }
            print("[jsonschemabench] \(subset): \(right)/\(total)")
        }
        print("[jsonschemabench] \(schemas) schemas, \(valid) valid + \(invalid) invalid instances, \(failures.count) misclassified")
        for f in failures { print("  FAIL \(f)") }
        #expect(valid + invalid == 1076)
        #expect(failures.isEmpty)
    }
}
