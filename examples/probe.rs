fn main() {
    let path = std::env::args().nth(1).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let url = url::Url::parse("http://feeds.example.org/feed.xml").unwrap();
    let decoded = kurator::decode::decode(&bytes, None, None);
    if let Some((up, kind)) = kurator::parse::dialect::upgrade(&decoded.text) {
        println!("{kind:?}\n{up}");
    }
    match kurator::ingest::process("p", bytes, None, &url, 1_900_000_000) {
        Ok(items) => {
            for i in items {
                println!("{:?} | {:?} | {:?}", i.item.title, i.item.link, i.identity);
            }
        }
        Err(e) => println!("ERR {e}"),
    }
}
