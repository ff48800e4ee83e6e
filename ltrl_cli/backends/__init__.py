"""Back ends the stages stand on: index (Lucene + pages + link graph), tokenize."""
