import Foundation
import Testing

/// `skiff schema validate` and `skiff schema check`, run as a user would.
@Suite("skiff schema end to end", .serialized)
struct SchemaCLITests {
    @Test func validSamplesPassAndExitZero() throws {
        let run = try skiff(["schema", "validate", "schemas/invoice.json",
                             "samples/invoice-001.expected.json", "samples/invoice-002.expected.json"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("samples/invoice-001.expected.json: valid"))
    }

    @Test func invalidInstanceExitsOneWithLocatedErrors() throws {
        let folder = try temporaryFolder()
        let bad = folder.appendingPathComponent("bad.json")
        try Data(#"{"company": "ACME", "date": "01/02/2024", "address": "x", "total": 12.5, "extra": 1}"#.utf8).write(to: bad)
        let run = try skiff(["schema", "validate", "schemas/receipt.json", "samples/receipt-007.expected.json", bad.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("samples/receipt-007.expected.json: valid"))
        #expect(run.stdout.contains("bad.json: invalid"))
        #expect(run.stdout.contains("/total: number is not of type \"string\" [schema /properties/total/type]"))
        #expect(run.stdout.contains("/extra: additional property \"extra\" is not allowed"))
    }

    @Test func basicOutputIsJSONPerFile() throws {
        let folder = try temporaryFolder()
        let bad = folder.appendingPathComponent("bad.json")
        try Data("[1, 2]".utf8).write(to: bad)
        let run = try skiff(["schema", "validate", "--output", "basic", "schemas/receipt.json", bad.path])
        #expect(run.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false)
        let errors = try #require(object?["errors"] as? [[String: Any]])
        #expect(errors.first?["keywordLocation"] as? String == "/type")
        #expect((errors.first?["absoluteKeywordLocation"] as? String)?.hasPrefix("https://skiff.example/schemas/receipt.json#") == true)
    }

    @Test func malformedInstanceIsReportedWithPosition() throws {
        let folder = try temporaryFolder()
        let broken = folder.appendingPathComponent("broken.json")
        try Data("{\n  \"company\": \"A\",\n  \"total\": 1.2.3\n}".utf8).write(to: broken)
        let run = try skiff(["schema", "validate", "schemas/receipt.json", broken.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("line 3, column"), "\(run.stdout)")
    }

    @Test func checkAcceptsTheProjectSchemasAndRejectsBadOnes() throws {
        let ok = try skiff(["schema", "check", "schemas/invoice.json", "schemas/receipt.json"])
        #expect(ok.status == 0, "\(ok.stdout)")
        let folder = try temporaryFolder()
        let bad = folder.appendingPathComponent("bad-schema.json")
        try Data(#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "strin", "minLength": -1}"#.utf8).write(to: bad)
        let run = try skiff(["schema", "check", bad.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("does not conform to http://json-schema.org/draft-07/schema#"))
        let regex = folder.appendingPathComponent("bad-regex.json")
        try Data(#"{"pattern": "\\a"}"#.utf8).write(to: regex)
        let r2 = try skiff(["schema", "check", regex.path])
        #expect(r2.status == 1)
        #expect(r2.stdout.contains("/pattern"), "\(r2.stdout)")
    }

    @Test func remoteReferencesResolveFromALocalFolder() throws {
        let folder = try temporaryFolder()
        try Data(#"{"type": "integer"}"#.utf8).write(to: folder.appendingPathComponent("int.json"))
        let schema = folder.appendingPathComponent("s.json")
        try Data(#"{"items": {"$ref": "https://remote.test/defs/int.json"}}"#.utf8).write(to: schema)
        let instance = folder.appendingPathComponent("i.json")
        try Data("[1, \"two\"]".utf8).write(to: instance)
        let run = try skiff(["schema", "validate", "--remote", "https://remote.test/defs=\(folder.path)", schema.path, instance.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("/1: string is not of type \"integer\""), "\(run.stdout)")
        let missing = try skiff(["schema", "validate", schema.path, instance.path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot resolve reference"), "\(missing.stderr)")
    }
}
