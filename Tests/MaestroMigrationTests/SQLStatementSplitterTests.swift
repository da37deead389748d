import MaestroMigration
import Testing

@Suite("SQL statement splitter")
struct SQLStatementSplitterTests {
  @Test("splits on semicolons outside literals, identifiers, comments and dollar quotes")
  func splits() {
    let script = """
      -- header comment; not a statement
      CREATE TABLE a (x text DEFAULT 'a;b', "we;ird" int);
      /* block; /* nested; */ still comment */
      INSERT INTO a VALUES ('it''s;', 1);

      CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$
      BEGIN RAISE EXCEPTION 'no; way'; END;
      $body$;
      SELECT E'\\';', $$x;y$$, $1
      """
    let statements = SQLStatementSplitter.split(script)
    #expect(statements.map(\.line) == [2, 4, 6, 9])
    #expect(statements[0].text == #"CREATE TABLE a (x text DEFAULT 'a;b', "we;ird" int)"#)
    #expect(statements[1].text == "INSERT INTO a VALUES ('it''s;', 1)")
    #expect(statements[2].text.hasSuffix("$body$"))
    #expect(statements[3].text == #"SELECT E'\';', $$x;y$$, $1"#)
  }

  @Test("comment-only and empty scripts have no statements", arguments: ["", "  \n", "-- nothing;\n/* ; */", ";;;"])
  func empty(script: String) {
    #expect(SQLStatementSplitter.split(script).isEmpty)
  }

  @Test("unterminated quotes do not crash or hang", arguments: ["SELECT 'abc", "SELECT $tag$ abc", "SELECT /* abc", #"SELECT "abc"#])
  func unterminated(script: String) {
    #expect(SQLStatementSplitter.split(script).count == 1)
  }
}
