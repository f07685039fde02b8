module github.com/spider-backstage/spider/whisperer

go 1.26
