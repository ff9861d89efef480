console.log('fissionfusion cli placeholder', process.argv.slice(2))
