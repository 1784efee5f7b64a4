import ArgumentParser
import Foundation

struct SkiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Scanned invoices and receipts to JSON, on this machine.",
        subcommands: [ExtractCommand.self, EvalCommand.self, OCRCommand.self, TilesCommand.self, ScoreCommand.self, SchemaCommand.self,
                      GenerateCommand.self, WatchCommand.self, ServeCommand.self, BenchCommand.self])
}

@main
enum SkiffMain {
    static func main() async {
        // `skiff score GT OCR [options]` with plain arguments runs straight away: ArgumentParser
        // builds its argument sets for every command by reflection first, which costs more
        // than scoring a page. Anything unusual (help, errors) still goes through it.
        if let score = ScoreInvocation.fastParse(Array(CommandLine.arguments.dropFirst())) {
            let status = score.execute()
            if status != 0 { exit(status) }
            return
        }
        await SkiffCommand.main()
    }
}
