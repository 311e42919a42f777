#!/usr/bin/env node
// Keeps the trainer readable: every function, method and arrow function under the given folders stays
// at most --max lines long (from its first line to its closing brace; nested functions count in their
// outer one too). Usage: node scripts/lint/function-length.mjs [--max 80] [--list] [folder...]
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
let max = 80;
let list = false;
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--max') max = Number(args[++i]);
  else if (args[i] === '--list') list = true;
  else roots.push(args[i]);
}
if (!roots.length) roots.push('src/train');
if (!Number.isInteger(max) || max < 1) {
  console.error(`expected --max to be a positive whole number, received ${args[args.indexOf('--max') + 1]}`);
  process.exit(2);
}

function* tsFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(p);
    else if (/\.m?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield p;
  }
}

function nameOf(node) {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText();
  return '<anonymous>';
}

const rows = [];
for (const root of roots) {
  for (const file of tsFiles(root)) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        rows.push({ file, line: first + 1, name: nameOf(node), lines: last - first + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}

rows.sort((a, b) => b.lines - a.lines);
if (list) for (const r of rows) console.log(`${String(r.lines).padStart(5)}  ${r.file}:${r.line}  ${r.name}`);
const long = rows.filter((r) => r.lines > max);
for (const r of long) console.error(`${r.file}:${r.line}: expected functions of at most ${max} lines, received ${r.name} with ${r.lines}`);
process.exit(long.length ? 1 : 0);
