package dev.spanheap.bench.compare;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;

/**
 * The comparison as one marker per peer and workload, ns/op on a logarithmic axis
 * (peers differ by four orders of magnitude; XChart draws no bars on a log axis).
 */
final class ComparisonChart {

    private ComparisonChart() {
    }

    static void write(Compare.Results results, Path png) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(1600).height(800)
                .title("Spanheap and its peers: ns per operation (lower is better, log scale)")
                .xAxisTitle("workload").yAxisTitle("ns/op").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setDefaultSeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Scatter);
        chart.getStyler().setOverlapped(true);
        chart.getStyler().setMarkerSize(10);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLabelRotation(20);
        List<String> workloads = new ArrayList<>(results.byWorkload.keySet());
        for (String peer : results.peers) {
            List<Double> values = new ArrayList<>();
            for (String workload : workloads) {
                Optional<Double> score = results.score(workload, peer);
                values.add(score.orElse(null));
            }
            if (values.stream().allMatch(v -> v != null && v > 0)) {
                chart.addSeries(peer, workloads, values);
            }
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
