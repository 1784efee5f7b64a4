import ArgumentParser

@main
struct SkiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Scanned invoices and receipts to JSON, on this machine.",
        subcommands: [ExtractCommand.self, EvalCommand.self, OCRCommand.self, TilesCommand.self, ScoreCommand.self, SchemaCommand.self,
                      GenerateCommand.self, BenchCommand.self])
}
