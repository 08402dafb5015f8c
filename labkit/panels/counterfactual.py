"""CounterfactualViewer: the Latent Shift movie of the selected image (Cohen et al., MIDL 2021).

Load an autoencoder (a ``labkit train-ae`` folder, or the cached pre-trained one),
press *Make movie*: the sweep runs off the UI thread, a quick preview movie first
(fewer frames, a shorter λ search; the caption says which is shown), then the full
one; choosing another image or class meanwhile cancels the refinement. Then play or scrub λ (a
``Play`` linked to the slider), read the prediction against λ, overlay one of the
four 2-D maps on the image, and export the movie as a GIF and a PNG frame strip.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W
from traitlets import link

from labkit.errors import InputError
from labkit.explain.latent_shift import check_autoencoder
from labkit.panels.base import STYLE, StatusLine, png_image
from labkit.panels.jobs import JobPanel
from labkit.render import heatmap_png, line_chart_png
from labkit.render.counterfactual import labelled_frames
from labkit.render.image import encode_png
from labkit.session import ExperimentState, Job
from labkit.session import counterfactuals as cf

RESULT_KEY = "panels.counterfactual"
MAP_CHOICES = [("latentshift-max", "max"), ("latentshift-mean", "mean"), ("latentshift-minmax", "minmax"),
               ("sliding interval", "interval")]


class CounterfactualViewer(JobPanel):
    """Play/scrub the counterfactual frames, prediction vs λ, map overlay, export."""

    title = "Counterfactual"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *, background: bool = True,
                 scale: int = 4) -> None:
        super().__init__(state, status, run_label="Make movie", run_icon="film", background=background)
        self.scale = scale
        self.ae_folder = W.Text(placeholder="autoencoder folder (labkit train-ae --out)",
                                layout=W.Layout(width="260px"))
        self.load_ae = W.Button(description="Load autoencoder", icon="folder-open")
        self.pretrained_ae = W.Button(description="Pre-trained autoencoder", icon="download",
                                      layout=W.Layout(width="auto"),
                                      tooltip="trained once on this machine for the loaded data, then cached")
        self.ae_job: Job[dict] = Job("labkit-autoencoder")
        self.status.follow(self.ae_job)
        self.ae_info = W.HTML()
        self.n_frames = W.IntSlider(value=20, min=4, max=60, description="frames", style=STYLE)
        self.drop = W.FloatSlider(value=0.3, min=0.05, max=0.95, step=0.05, description="drop", style=STYLE,
                                  tooltip="search λ down until p has dropped by this fraction")
        self.rise = W.FloatSlider(value=0.05, min=0.01, max=0.95, step=0.01, description="rise", style=STYLE,
                                  tooltip="search λ up until p has risen by this fraction of its headroom")
        self.frame = W.IntSlider(value=0, min=0, max=0, description="frame", readout=False, style=STYLE)
        self.play = W.Play(value=0, min=0, max=0, interval=150, description="play")
        self._play_link = link((self.play, "value"), (self.frame, "value"))
        self.lam_label = W.HTML()
        self.caption = W.HTML()
        self.caption.add_class("labkit-cf-caption")
        self.map_choice = W.Dropdown(options=MAP_CHOICES, value="max", description="map", style=STYLE)
        self.export_prefix = W.Text(value="runs/counterfactual", description="export to", style=STYLE,
                                    layout=W.Layout(width="300px"))
        self.export_button = W.Button(description="Export GIF + PNG", icon="save")
        self.frame_img, self.map_img, self.plot = png_image(), png_image(), png_image()
        self.map_img.add_class("labkit-cf-map")
        self.on_click(self.load_ae, self.load_folder)
        self.on_click(self.pretrained_ae, self.load_pretrained)
        self.on_click(self.export_button, self.export)
        self._placing = False  # True while _ready moves the frame slider: it shows the frame once itself
        self.watch(self.frame, lambda _: None if self._placing else self._show_frame(), "value")
        self.watch(self.map_choice, lambda _: self._show_map(), "value")
        self.watch(state, lambda _: self._describe_ae(), "autoencoder")
        self.watch(state.selection, lambda _: self.job.cancel() if self.job.running else None,
                   "image_index", "split", "custom_image", "variant", "target")
        self._describe_ae()
        self.body = W.VBox([
            W.HBox([self.ae_folder, self.load_ae, self.pretrained_ae, self.ae_info]),
            W.HBox([self.n_frames, self.drop, self.rise, self.controls(), self.progress]),
            W.HBox([self.play, self.frame, self.lam_label, self.caption]),
            W.HBox([self.frame_img, self.map_img, self.plot]),
            W.HBox([self.map_choice, self.export_prefix, self.export_button])])

    @property
    def movie(self) -> cf.Movie | None:
        return self.state.cache.get(RESULT_KEY)

    # ---- autoencoder ------------------------------------------------------------------
    def load_folder(self) -> None:
        folder = self.ae_folder.value.strip()
        if not folder:
            raise InputError("type an autoencoder folder first (written by `labkit train-ae --out DIR`)")
        meta = cf.use_autoencoder_folder(self.state, folder)
        mae = meta.get("test", {}).get("mae", float("nan"))
        self.status.show(f"autoencoder loaded from {folder} (test MAE {mae:.3f})", "ok")

    def load_pretrained(self) -> None:
        self.state.require_data()
        self.ae_job.start("pre-trained autoencoder (trained once on this machine, then cached)",
                          lambda report: cf.use_pretrained_autoencoder(self.state), background=self.background,
                          describe=lambda meta: f"autoencoder ready (test MAE {meta['test']['mae']:.3f})")

    def _describe_ae(self) -> None:
        ae = self.state.autoencoder
        self.ae_info.value = ("<span style='color:#9a6700'>no autoencoder yet: load one or train it with "
                              "<code>labkit train-ae</code></span>" if ae is None else
                              f"<span style='color:#666'>autoencoder {getattr(ae, 'latent_shape', '')}</span>")

    # ---- the movie ------------------------------------------------------------------------
    def start(self) -> None:
        s = self.state
        s.model()  # errors before the job starts: no model, no autoencoder
        check_autoencoder(s.autoencoder)
        params = dict(n_frames=int(self.n_frames.value), drop=float(self.drop.value), rise=float(self.rise.value))

        def work(report: Callable[[int, int], None]) -> cf.Movie:
            for i, movie in enumerate(cf.progressive_movie(s, stop=lambda: self.job.cancelling, **params)):
                report(i + 1, 2)  # raises Cancelled once a newer selection came: nothing more is painted
                if not movie.caption.startswith("full"):
                    self._ready(movie)
            return movie

        self.launch("making the counterfactual movie", work, self._ready)

    def _ready(self, movie: cf.Movie) -> None:
        self.state.cache.put(RESULT_KEY, movie)
        self.caption.value = f"<i>{movie.caption}</i>"  # before the images: it names the stage they show
        self._show_map()  # first: the map is what a preview is for (the frame and the plot follow)
        self._placing = True
        try:
            for w in (self.frame, self.play):
                w.max = len(movie.lambdas) - 1
            self.frame.value = movie.zero_index
        finally:
            self._placing = False
        self._show_frame()

    def _class_name(self, target: int) -> str:
        names = self.state.data.class_names if self.state.data is not None else ()
        return f"p({names[target]})" if names else f"p(class {target})"

    def _show_frame(self) -> None:
        movie = self.movie
        if movie is None:
            return
        k = int(self.frame.value)
        name = self._class_name(movie.target)
        tile = labelled_frames(movie.frames[k:k + 1], movie.lambdas[k:k + 1], movie.probs[k:k + 1],
                               scale=self.scale, class_name=name)[0]
        self.frame_img.value = encode_png(tile)
        self.lam_label.value = (f"λ = {float(movie.lambdas[k]):.3g}, {name} = {float(movie.probs[k]):.3f} "
                                f"(image {movie.input_prob:.3f}, reconstruction {movie.recon_prob:.3f})")
        lam, p = movie.lambdas.tolist(), movie.probs.tolist()
        self.plot.value = line_chart_png({name: (lam, p), "this frame": ([lam[k]], [p[k]])}, xlabel="λ",
                                         ylabel=name, title="prediction along the shift", ylim=(0, 1.02),
                                         styles={"this frame": "o"}, size=(3.6, 2.8))

    def _show_map(self) -> None:
        movie = self.movie
        if movie is not None:
            self.map_img.value = heatmap_png(movie.image, movie.maps[self.map_choice.value], mask=movie.mask,
                                             scale=self.scale)

    def export(self) -> None:
        movie = self.movie
        if movie is None:
            raise InputError("nothing to export yet: press “Make movie” first")
        gif, png = cf.export(movie, self.export_prefix.value.strip() or "runs/counterfactual",
                             self._class_name(movie.target))
        self.status.show(f"exported {gif} and {png}", "ok")

    def close(self) -> None:
        self._play_link.unlink()
        super().close()


__all__ = ["CounterfactualViewer"]
