import ArgumentParser
import Foundation
import SkiffJSON
import SkiffSchema

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Validate JSON documents against a JSON Schema (drafts 4, 6, 7, 2019-09, 2020-12).",
        subcommands: [SchemaValidateCommand.self, SchemaCheckCommand.self])
}

/// Options shared by the schema subcommands.
struct SchemaOptionGroup: ParsableArguments {
    @Option(
        name: .customLong("remote"),
        help: ArgumentHelp(
            "Serve a local folder for remote $refs: BASE-URI=FOLDER (repeatable); never the network.",
            valueName: "uri=folder"))
    var remotes: [String] = []

    @Flag(help: "Check `format` (by default it is an annotation only, as 2019-09/2020-12 say).")
    var assertFormat = false

    func registry() throws -> SchemaRegistry {
        var registry = SchemaRegistry()
        for spec in remotes {
            guard let eq = spec.firstIndex(of: "=") else {
                throw ArgumentParser.ValidationError("--remote needs BASE-URI=FOLDER, got \"\(spec)\"")
            }
            var base = String(spec[..<eq])
            if !base.hasSuffix("/") { base += "/" }
            try registry.addDirectory(String(spec[spec.index(after: eq)...]), baseURI: base)
        }
        return registry
    }

    var options: SkiffSchema.SchemaOptions {
        var o = SkiffSchema.SchemaOptions()
        o.formatAssertion = assertFormat
        return o
    }
}

/// Reads and parses a JSON file, with the file name in any error.
func readJSON(_ path: String) throws -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SchemaCLIError("\(path): cannot read the file")
    }
    do { return try JSONParser().parse(Array(data)) } catch { throw SchemaCLIError("\(path): \(error)") }
}

func fileURI(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.absoluteString
}

struct SchemaCLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct SchemaValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate each INSTANCE against SCHEMA; exit 0 when all are valid, 1 otherwise.")

    @Argument(help: "The JSON Schema file.") var schema: String
    @Argument(help: "JSON files to validate.") var instances: [String]
    @OptionGroup var common: SchemaOptionGroup
    @Option(help: "text: one line per error; basic: the specification's \"basic\" output, one JSON object per file.")
    var output: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument { case text, basic }

    func run() async throws {
        let compiled: JSONSchema
        do {
            compiled = try JSONSchema(readJSON(schema), uri: fileURI(schema), registry: common.registry(), options: common.options)
        } catch {
            printError("skiff schema: \(error is SchemaCLIError ? "" : schema + ": ")\(error)")
            throw ExitCode(1)
        }
        var failures = 0
        for path in instances {
            do {
                let result = try compiled.validate(readJSON(path))
                if output == .basic {
                    var o = result.basicOutput.objectValue ?? JSONObject()
                    o["file"] = .string(path)
                    print(JSONSerializer.compact.string(from: .object(o)))
                } else if result.isValid {
                    print("\(path): valid")
                } else {
                    print("\(path): invalid (\(result.errors.count) error\(result.errors.count == 1 ? "" : "s"))")
                    for e in result.errors { print("  \(e)") }
                }
                if !result.isValid { failures += 1 }
            } catch {
                failures += 1
                if output == .basic {
                    var o = JSONObject()
                    o["file"] = .string(path)
                    o["valid"] = .bool(false)
                    o["error"] = .string("\(error)")
                    print(JSONSerializer.compact.string(from: .object(o)))
                } else {
                    print(error is SchemaCLIError ? "\(error)" : "\(path): error: \(error)")
                }
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

struct SchemaCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check each SCHEMA against its metaschema (by $schema; 2020-12 when absent) and compile it.")

    @Argument(help: "JSON Schema files.") var schemas: [String]
    @OptionGroup var common: SchemaOptionGroup

    func run() async throws {
        let registry: SchemaRegistry
        do { registry = try common.registry() } catch {
            printError("skiff schema: \(error)")
            throw ExitCode(1)
        }
        var failures = 0
        for schema in schemas where !check(schema, registry: registry) { failures += 1 }
        if failures > 0 { throw ExitCode(1) }
    }

    func check(_ schema: String, registry: SchemaRegistry) -> Bool {
        do {
            let value = try readJSON(schema)
            let metaURI = value["$schema"]?.stringValue ?? Dialect.draft2020_12.metaschemaURI
            guard let meta = registry.document(for: metaURI) else {
                print("\(schema): unknown metaschema \(metaURI) (give its folder with --remote)")
                return false
            }
            let result = try JSONSchema(meta, uri: metaURI, registry: registry).validate(value)
            if !result.isValid {
                print("\(schema): does not conform to \(metaURI) (\(result.errors.count) errors)")
                for e in result.errors { print("  \(e)") }
                return false
            }
            // Conforming is not enough to be usable: references must resolve, patterns compile.
            _ = try JSONSchema(value, uri: fileURI(schema), registry: registry, options: common.options)
            print("\(schema): valid schema (\(metaURI))")
            return true
        } catch {
            print("\(schema): \(error)")
            return false
        }
    }
}
