#!/usr/bin/env python3
# Non-test lines of code by crate, at two revisions (or WT for the working tree), for
# issue 16: .rs files under crates/*/src, without blank and comment lines, #[cfg(test)]
# items or tests.rs files. Usage: python3 .ci/loc.py REV_A REV_B (run from the repo root).
import subprocess, sys
def count(txt):
    lines=txt.split('\n'); n=0; i=0
    while i < len(lines):
        t=lines[i].strip()
        if t.startswith('#[cfg(test)]'):
            # skip the item that follows
            i+=1
            while i<len(lines) and (not lines[i].strip() or lines[i].strip().startswith('#[')): i+=1
            if i<len(lines) and '{' in lines[i]:
                depth=0
                while i<len(lines):
                    l=lines[i]
                    depth+=l.count('{')-l.count('}')
                    i+=1
                    if depth<=0: break
            else:
                i+=1
            continue
        if t and not t.startswith('//'): n+=1
        i+=1
    return n
def loc(rev):
    if rev == 'WT':
        files = subprocess.run(['git','ls-files','--cached','--others','--exclude-standard'],capture_output=True,text=True,cwd='.').stdout.split()
    else:
        files = subprocess.run(['git','ls-tree','-r','--name-only',rev],capture_output=True,text=True,cwd='.').stdout.split()
    per = {}
    for f in files:
        if not f.endswith('.rs'): continue
        parts=f.split('/')
        if parts[0]!='crates' or len(parts)<3 or parts[2]!='src': continue
        if parts[-1] in ('tests.rs',) : continue
        if rev == 'WT':
            try: txt = open(f).read()
            except FileNotFoundError: continue
        else:
            txt = subprocess.run(['git','show',f'{rev}:{f}'],capture_output=True,text=True,cwd='.').stdout
        per[parts[1]] = per.get(parts[1],0)+count(txt)
    return per
if __name__=='__main__' and len(sys.argv)==3:
    a=loc(sys.argv[1]); b=loc(sys.argv[2])
    for k in sorted(set(a)|set(b)):
        print(f"{k:20} {a.get(k,0):7} {b.get(k,0):7} {b.get(k,0)-a.get(k,0):+6}")
    print('total', sum(a.values()), sum(b.values()), sum(b.values())-sum(a.values()))
